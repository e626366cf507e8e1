package procledger.example;

import java.math.BigDecimal;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;

/** One decoded record as a JSON line: decimals as strings, timestamps as UTC microseconds. */
final class Json {
  private Json() {}

  static String line(ConsumerRecord<byte[], byte[]> r, String type, GenericRecord event) {
    StringBuilder out = new StringBuilder("{\"topic\":").append(quote(r.topic()))
        .append(",\"partition\":").append(r.partition()).append(",\"offset\":").append(r.offset())
        .append(",\"event_type\":").append(quote(type)).append(",\"fields\":{");
    boolean first = true;
    for (Schema.Field field : event.getSchema().getFields()) {
      if (!first) {
        out.append(',');
      }
      first = false;
      out.append(quote(field.name())).append(':').append(value(event.get(field.name())));
    }
    return out.append("}}").toString();
  }

  private static String value(Object v) {
    if (v == null) {
      return "null";
    }
    if (v instanceof Long || v instanceof Integer) {
      return v.toString();
    }
    if (v instanceof BigDecimal d) {
      return quote(d.toPlainString());
    }
    return quote(v.toString()); // strings (Utf8) and enum symbols
  }

  private static String quote(String s) {
    StringBuilder out = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"').toString();
  }
}
