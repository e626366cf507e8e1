// Command procledger-go-example publishes procledger events from Go and reads them back:
// Avro single-object encoding with github.com/hamba/avro/v2, Kafka with franz-go.
//
//	produce -bootstrap HOST:PORT -topic T -schemas DIR -orders N
//	read -bootstrap HOST:PORT -topics T1,T2 -schemas DIR -expect N
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: produce|read -bootstrap HOST:PORT -schemas DIR ...")
		os.Exit(2)
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	bootstrap := flags.String("bootstrap", "127.0.0.1:9092", "Kafka bootstrap servers")
	schemasDir := flags.String("schemas", "", "the schemas/avro folder")
	topic := flags.String("topic", "procurement.orders", "produce: the orders topic")
	orders := flags.Int("orders", 1, "produce: orders to place, deliver and pay")
	source := flags.String("source-system", "go-example", "produce: the source_system header")
	topics := flags.String("topics", "", "read: comma-separated topics")
	expect := flags.Int("expect", 0, "read: records to read")
	_ = flags.Parse(os.Args[2:])

	schemas, err := LoadSchemas(*schemasDir)
	check(err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	switch os.Args[1] {
	case "produce":
		check(produce(ctx, *bootstrap, *topic, *source, *orders, schemas))
	case "read":
		check(read(ctx, *bootstrap, strings.Split(*topics, ","), *expect, schemas))
	default:
		fmt.Fprintln(os.Stderr, "unknown command", os.Args[1])
		os.Exit(2)
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func produce(ctx context.Context, bootstrap, topic, source string, orders int, s *Schemas) error {
	// franz-go is idempotent with acks=all by default; its default partitioner hashes the key
	// with murmur2, as Java and kafka-python do, so an order's events share one partition.
	client, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		return err
	}
	defer client.Close()
	var records []*kgo.Record
	for n := 0; n < orders; n++ {
		for _, event := range sampleOrder(n) {
			value, err := s.Encode(event.Type, event.Value)
			if err != nil {
				return fmt.Errorf("%s: %w", event.Type, err)
			}
			records = append(records, &kgo.Record{
				Topic: topic, Key: []byte(event.Key), Value: value,
				Headers: []kgo.RecordHeader{
					{Key: "event_type", Value: []byte(event.Type)},
					{Key: "source_system", Value: []byte(source)},
					{Key: "content_type", Value: []byte("application/vnd.apache.avro+single-object")},
				},
			})
		}
	}
	results := client.ProduceSync(ctx, records...)
	if err := results.FirstErr(); err != nil {
		return err
	}
	out := json.NewEncoder(os.Stdout)
	for _, r := range results {
		err := out.Encode(map[string]any{
			"event_type": string(r.Record.Headers[0].Value), "topic": r.Record.Topic,
			"partition": r.Record.Partition, "offset": r.Record.Offset,
			"event_id": s.EventID(r.Record.Value),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func read(ctx context.Context, bootstrap string, topics []string, expect int, s *Schemas) error {
	client, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer client.Close()
	out := json.NewEncoder(os.Stdout)
	seen := 0
	for seen < expect {
		fetches := client.PollFetches(ctx)
		if errs := fetches.Errors(); len(errs) > 0 {
			return fmt.Errorf("read %d of %d records: %v", seen, expect, errs[0].Err)
		}
		for _, r := range fetches.Records() {
			eventType, fields, err := s.Decode(r.Value)
			line := map[string]any{"topic": r.Topic, "partition": r.Partition, "offset": r.Offset}
			if err != nil {
				line["error"] = err.Error()
			} else {
				line["event_type"], line["fields"] = eventType, fields
			}
			if err := out.Encode(line); err != nil {
				return err
			}
			seen++
		}
	}
	return nil
}
