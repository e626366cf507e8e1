package procledger.example;

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.Future;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The procledger Java example.
 *
 * <pre>
 * produce --bootstrap HOST:PORT --topic T --schemas DIR --orders N [--source-system S]
 *     N orders, each placed, delivered in part and paid in part; one JSON line per event
 *     with its coordinates once the broker confirmed it.
 * read --bootstrap HOST:PORT --topics T1,T2 --schemas DIR --expect N
 *     the first N records of the topics, decoded; one JSON line per record.
 * </pre>
 */
public final class Main {
  private Main() {}

  public static void main(String[] argv) throws Exception {
    Map<String, String> args = new HashMap<>();
    for (int i = 1; i + 1 < argv.length; i += 2) {
      args.put(argv[i].replaceFirst("^--", ""), argv[i + 1]);
    }
    String command = argv.length > 0 ? argv[0] : "";
    Schemas schemas = new Schemas(Path.of(required(args, "schemas")));
    switch (command) {
      case "produce" -> produce(args, schemas);
      case "read" -> read(args, schemas);
      default -> {
        System.err.println("usage: produce|read --bootstrap HOST:PORT --schemas DIR ...");
        System.exit(2);
      }
    }
  }

  private static String required(Map<String, String> args, String name) {
    String value = args.get(name);
    if (value == null) {
      System.err.println("missing --" + name);
      System.exit(2);
    }
    return value;
  }

  private static long micros(Instant at) {
    return ChronoUnit.MICROS.between(Instant.EPOCH, at);
  }

  /** A record of the event type's current schema, fields given as name/value pairs. */
  private static GenericRecord record(Schemas schemas, String type, Object... fields) {
    GenericData.Record r = new GenericData.Record(schemas.current(type));
    for (int i = 0; i < fields.length; i += 2) {
      r.put((String) fields[i], fields[i + 1]);
    }
    return r;
  }

  private static void produce(Map<String, String> args, Schemas schemas) throws Exception {
    String topic = required(args, "topic");
    int orders = Integer.parseInt(required(args, "orders"));
    String source = args.getOrDefault("source-system", "java-example");
    Properties props = new Properties();
    props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, required(args, "bootstrap"));
    // What the ledger expects of every producer: no loss, no duplicates from retries.
    props.put(ProducerConfig.ACKS_CONFIG, "all");
    props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
    props.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    props.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
    Instant start = Instant.parse("2023-06-15T09:30:00Z");
    List<GenericRecord> events = new ArrayList<>();
    for (int n = 0; n < orders; n++) {
      String orderId = "JAVA-" + UUID.randomUUID();
      Instant at = start.plus(Duration.ofMinutes(n));
      events.add(record(schemas, "OrderPlaced",
          "event_id", UUID.randomUUID().toString(), "occurred_at", micros(at),
          "order_id", orderId, "buyer", "POL", "supplier", "Java Munitions SA",
          "item_description", "155mm HE shell", "caliber_mm", 155L, "quantity", 1000L + n,
          // Decimals must carry exactly the schema's scale (4 for prices, 8 for rates).
          "unit_price", new BigDecimal("3250.5").setScale(4),
          "currency", "EUR", "usd_rate", new BigDecimal("1.0841").setScale(8),
          "purpose", new GenericData.EnumSymbol(
              schemas.current("OrderPlaced").getField("purpose").schema(), "UKRAINE_SUPPORT"),
          "destination", "UKR", "supplier_country", "POL", "contract_ref", "JX-" + n,
          "nsn", null, "expected_delivery", micros(at.plus(Duration.ofDays(90)))));
      events.add(record(schemas, "DeliveryRecorded",
          "event_id", UUID.randomUUID().toString(), "occurred_at", micros(at.plus(Duration.ofDays(30))),
          "order_id", orderId, "delivery_id", "LOT-" + n, "quantity", 400L, "destination", "UKR"));
      events.add(record(schemas, "PaymentRecorded",
          "event_id", UUID.randomUUID().toString(), "occurred_at", micros(at.plus(Duration.ofDays(31))),
          "order_id", orderId, "payment_id", "PAY-" + n,
          "amount", new BigDecimal("100000.00"), "currency", "EUR",
          "usd_rate", new BigDecimal("1.09000000")));
    }
    try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props)) {
      List<Future<RecordMetadata>> sent = new ArrayList<>();
      for (GenericRecord event : events) {
        String type = event.getSchema().getName();
        ProducerRecord<byte[], byte[]> rec = new ProducerRecord<>(topic,
            // The key is the order id, so every event of an order lands on one partition.
            event.get("order_id").toString().getBytes(StandardCharsets.UTF_8),
            schemas.encoder(type).encode(event).array());
        rec.headers().add("event_type", type.getBytes(StandardCharsets.UTF_8));
        rec.headers().add("source_system", source.getBytes(StandardCharsets.UTF_8));
        rec.headers().add("content_type",
            "application/vnd.apache.avro+single-object".getBytes(StandardCharsets.UTF_8));
        sent.add(producer.send(rec));
      }
      for (int i = 0; i < events.size(); i++) {
        RecordMetadata meta = sent.get(i).get(); // the broker's acknowledgement
        GenericRecord event = events.get(i);
        System.out.println("{\"event_id\":\"" + event.get("event_id") + "\",\"event_type\":\""
            + event.getSchema().getName() + "\",\"topic\":\"" + meta.topic() + "\",\"partition\":"
            + meta.partition() + ",\"offset\":" + meta.offset() + "}");
      }
    }
  }

  private static void read(Map<String, String> args, Schemas schemas) throws Exception {
    int expect = Integer.parseInt(required(args, "expect"));
    Properties props = new Properties();
    props.put("bootstrap.servers", required(args, "bootstrap"));
    props.put("enable.auto.commit", "false");
    props.put("key.deserializer", ByteArrayDeserializer.class.getName());
    props.put("value.deserializer", ByteArrayDeserializer.class.getName());
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    int seen = 0;
    try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
      List<TopicPartition> partitions = new ArrayList<>();
      for (String topic : required(args, "topics").split(",")) {
        for (PartitionInfo p : consumer.partitionsFor(topic)) {
          partitions.add(new TopicPartition(topic, p.partition()));
        }
      }
      consumer.assign(partitions);
      consumer.seekToBeginning(partitions);
      while (seen < expect && System.nanoTime() < deadline) {
        for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
          String type = schemas.typeOf(r.value());
          if (type == null) {
            System.out.println("{\"topic\":\"" + r.topic() + "\",\"offset\":" + r.offset()
                + ",\"error\":\"not single-object encoded with a known schema\"}");
          } else {
            System.out.println(Json.line(r, type, schemas.decode(type, r.value())));
          }
          seen++;
        }
      }
    }
    if (seen < expect) {
      System.err.println("read " + seen + " of " + expect + " records in 60 s");
      System.exit(1);
    }
  }
}
