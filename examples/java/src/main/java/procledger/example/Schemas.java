package procledger.example;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.avro.Conversions;
import org.apache.avro.Schema;
import org.apache.avro.SchemaNormalization;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.message.BinaryMessageDecoder;
import org.apache.avro.message.BinaryMessageEncoder;

/** The event contract loaded from schemas/avro/: every version of every event type. */
final class Schemas {
  private static final Pattern FILE = Pattern.compile("([A-Z][A-Za-z0-9]*)\\.v([1-9][0-9]*)\\.avsc");

  /** Generic records with decimals as BigDecimal (timestamps stay longs: UTC microseconds). */
  static final GenericData MODEL = new GenericData();

  static {
    MODEL.addLogicalTypeConversion(new Conversions.DecimalConversion());
  }

  /** event type -> version -> schema. */
  private final Map<String, TreeMap<Integer, Schema>> versions = new HashMap<>();
  /** writer fingerprint (8 wire bytes, hex) -> event type. */
  private final Map<String, String> typeByFingerprint = new HashMap<>();
  private final Map<String, BinaryMessageDecoder<GenericRecord>> decoders = new HashMap<>();

  Schemas(Path dir) throws IOException {
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.avsc")) {
      for (Path file : files) {
        Matcher m = FILE.matcher(file.getFileName().toString());
        if (!m.matches()) {
          continue;
        }
        // A fresh parser per file: each file defines procledger.events.Purpose again.
        Schema schema = new Schema.Parser().parse(file.toFile());
        versions.computeIfAbsent(m.group(1), k -> new TreeMap<>()).put(Integer.parseInt(m.group(2)), schema);
        typeByFingerprint.put(fingerprintHex(schema), m.group(1));
      }
    }
    for (Map.Entry<String, TreeMap<Integer, Schema>> type : versions.entrySet()) {
      // The reader schema is the current (highest) version; older writers are added so the
      // decoder resolves their records into it, chosen by the fingerprint in the header.
      BinaryMessageDecoder<GenericRecord> decoder =
          new BinaryMessageDecoder<>(MODEL, type.getValue().lastEntry().getValue());
      type.getValue().values().forEach(decoder::addSchema);
      decoders.put(type.getKey(), decoder);
    }
  }

  /** The current (highest version) schema of an event type. */
  Schema current(String eventType) {
    TreeMap<Integer, Schema> all = versions.get(eventType);
    if (all == null) {
      throw new IllegalArgumentException("no schema for event type " + eventType);
    }
    return all.lastEntry().getValue();
  }

  /** A single-object encoder (C3 01, CRC-64-AVRO fingerprint, body) for the current schema. */
  BinaryMessageEncoder<GenericRecord> encoder(String eventType) {
    return new BinaryMessageEncoder<>(MODEL, current(eventType));
  }

  /** The event type whose schema wrote these single-object bytes, or null if none did. */
  String typeOf(byte[] value) {
    if (value.length < 10 || (value[0] & 0xff) != 0xc3 || value[1] != 0x01) {
      return null;
    }
    return typeByFingerprint.get(HexFormat.of().formatHex(value, 2, 10));
  }

  GenericRecord decode(String eventType, byte[] value) throws IOException {
    return decoders.get(eventType).decode(ByteBuffer.wrap(value));
  }

  /** The fingerprint as the header carries it: 8 little-endian bytes, in hex. */
  static String fingerprintHex(Schema schema) {
    long fp = SchemaNormalization.parsingFingerprint64(schema);
    byte[] le = new byte[8];
    for (int i = 0; i < 8; i++) {
      le[i] = (byte) (fp >>> (8 * i));
    }
    return HexFormat.of().formatHex(le);
  }
}
