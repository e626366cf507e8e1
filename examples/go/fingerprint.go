package main

import (
	"encoding/binary"
	"regexp"
)

// hamba/avro's own FingerprintUsing(CRC64AvroLE) hashes a canonical form that keeps
// logicalType, precision and scale; the Avro specification's Parsing Canonical Form (and so
// Java's SchemaNormalization and the ledger) strips them. This program therefore takes
// hamba's canonical string, strips those attributes, and computes CRC-64-AVRO itself.
var (
	logicalAttrs  = regexp.MustCompile(`,"(logicalType|precision|scale)":("[^"]*"|[0-9]+)`)
	bareprimitive = regexp.MustCompile(`\{"type":"(null|boolean|int|long|float|double|bytes|string)"\}`)
)

// parsingCanonicalForm of hamba's canonical string (which already orders and strips
// everything else the specification asks for).
func parsingCanonicalForm(hambaCanonical string) string {
	stripped := logicalAttrs.ReplaceAllString(hambaCanonical, "")
	return bareprimitive.ReplaceAllString(stripped, `"$1"`)
}

const crc64AvroEmpty = 0xc15d213aa4d7a795

var crc64AvroTable = func() (table [256]uint64) {
	for i := range table {
		fp := uint64(i)
		for j := 0; j < 8; j++ {
			fp = (fp >> 1) ^ (crc64AvroEmpty & -(fp & 1))
		}
		table[i] = fp
	}
	return table
}()

// fingerprint is the CRC-64-AVRO (Rabin) fingerprint as the 8 little-endian bytes that
// single-object encoding writes after C3 01.
func fingerprint(canonical string) []byte {
	fp := uint64(crc64AvroEmpty)
	for _, c := range []byte(canonical) {
		fp = (fp >> 8) ^ crc64AvroTable[byte(fp)^c]
	}
	out := make([]byte, 8)
	binary.LittleEndian.PutUint64(out, fp)
	return out
}
