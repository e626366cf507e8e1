package main

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/hamba/avro/v2"
)

var fileName = regexp.MustCompile(`^([A-Z][A-Za-z0-9]*)\.v([1-9][0-9]*)\.avsc$`)

// magic is the Avro single-object encoding's marker; the 8-byte fingerprint follows it.
var magic = []byte{0xc3, 0x01}

type version struct {
	eventType string
	number    int
	schema    avro.Schema
	header    []byte // C3 01 + CRC-64-AVRO fingerprint, little-endian
}

// Schemas is the event contract loaded from schemas/avro/: every version of every type.
type Schemas struct {
	current map[string]*version
	byHex   map[string]*version
}

// LoadSchemas parses every <Type>.v<N>.avsc file; the highest version of a type writes.
func LoadSchemas(dir string) (*Schemas, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.avsc"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	s := &Schemas{current: map[string]*version{}, byHex: map[string]*version{}}
	for _, file := range files {
		m := fileName.FindStringSubmatch(filepath.Base(file))
		if m == nil {
			continue
		}
		text, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		// A cache per file: every file defines procledger.events.Purpose again.
		schema, err := avro.ParseBytesWithCache(text, "", &avro.SchemaCache{})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		fingerprint := fingerprint(parsingCanonicalForm(schema.String()))
		number, _ := strconv.Atoi(m[2])
		v := &version{m[1], number, schema, append(append([]byte{}, magic...), fingerprint...)}
		s.byHex[hex.EncodeToString(fingerprint)] = v
		if old := s.current[m[1]]; old == nil || old.number < number {
			s.current[m[1]] = v
		}
	}
	return s, nil
}

// Encode writes a record of the type's current schema as single-object bytes.
func (s *Schemas) Encode(eventType string, value any) ([]byte, error) {
	v := s.current[eventType]
	if v == nil {
		return nil, fmt.Errorf("no schema for event type %s", eventType)
	}
	body, err := avro.Marshal(v.schema, value)
	if err != nil {
		return nil, err
	}
	return append(append([]byte{}, v.header...), body...), nil
}

func (s *Schemas) writer(value []byte) (*version, error) {
	if len(value) < 10 || !bytes.Equal(value[:2], magic) {
		return nil, fmt.Errorf("not Avro single-object encoded")
	}
	v := s.byHex[hex.EncodeToString(value[2:10])]
	if v == nil {
		return nil, fmt.Errorf("unknown fingerprint %x", value[2:10])
	}
	return v, nil
}

// Decode reads single-object bytes with the writer schema their fingerprint names.
func (s *Schemas) Decode(value []byte) (string, map[string]any, error) {
	v, err := s.writer(value)
	if err != nil {
		return "", nil, err
	}
	record := map[string]any{}
	if err := avro.Unmarshal(v.schema, value[10:], &record); err != nil {
		return "", nil, err
	}
	return v.eventType, jsonForm(record), nil
}

// EventID of single-object bytes this program wrote (for its report).
func (s *Schemas) EventID(value []byte) string {
	_, fields, err := s.Decode(value)
	if err != nil {
		return ""
	}
	id, _ := fields["event_id"].(string)
	return id
}

// jsonForm: decimals as plain strings, instants as UTC microseconds, unions unwrapped.
func jsonForm(record map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range record {
		out[k] = jsonValue(v)
	}
	return out
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case map[string]any: // a union branch, e.g. {"long": 155}
		for _, inner := range x {
			return jsonValue(inner)
		}
		return nil
	case *big.Rat:
		return x.FloatString(8)
	case time.Time:
		return x.UnixMicro()
	default:
		return x
	}
}
