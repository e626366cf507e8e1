package main

import (
	"fmt"
	"math/big"
	"time"

	"github.com/google/uuid"
)

// OrderPlaced mirrors schemas/avro/OrderPlaced.v2.avsc; pointers are the nullable fields.
type OrderPlaced struct {
	EventID          string     `avro:"event_id"`
	OccurredAt       time.Time  `avro:"occurred_at"`
	OrderID          string     `avro:"order_id"`
	Buyer            string     `avro:"buyer"`
	Supplier         string     `avro:"supplier"`
	ItemDescription  string     `avro:"item_description"`
	CaliberMM        *int64     `avro:"caliber_mm"`
	Quantity         int64      `avro:"quantity"`
	UnitPrice        *big.Rat   `avro:"unit_price"`
	Currency         string     `avro:"currency"`
	USDRate          *big.Rat   `avro:"usd_rate"`
	Purpose          string     `avro:"purpose"`
	Destination      *string    `avro:"destination"`
	SupplierCountry  *string    `avro:"supplier_country"`
	ContractRef      *string    `avro:"contract_ref"`
	NSN              *string    `avro:"nsn"`
	ExpectedDelivery *time.Time `avro:"expected_delivery"`
}

// DeliveryRecorded mirrors schemas/avro/DeliveryRecorded.v1.avsc.
type DeliveryRecorded struct {
	EventID     string    `avro:"event_id"`
	OccurredAt  time.Time `avro:"occurred_at"`
	OrderID     string    `avro:"order_id"`
	DeliveryID  string    `avro:"delivery_id"`
	Quantity    int64     `avro:"quantity"`
	Destination *string   `avro:"destination"`
}

// PaymentRecorded mirrors schemas/avro/PaymentRecorded.v1.avsc.
type PaymentRecorded struct {
	EventID    string    `avro:"event_id"`
	OccurredAt time.Time `avro:"occurred_at"`
	OrderID    string    `avro:"order_id"`
	PaymentID  string    `avro:"payment_id"`
	Amount     *big.Rat  `avro:"amount"`
	Currency   string    `avro:"currency"`
	USDRate    *big.Rat  `avro:"usd_rate"`
}

type event struct {
	Type  string
	Key   string // the Kafka key: the order id
	Value any
}

func ptr[T any](v T) *T { return &v }

func decimal(text string) *big.Rat {
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		panic("bad decimal " + text)
	}
	return r
}

// sampleOrder: order n is placed, delivered in part and paid in part.
func sampleOrder(n int) []event {
	orderID := "GO-" + uuid.NewString()
	at := time.Date(2023, 6, 15, 9, 30, 0, 0, time.UTC).Add(time.Duration(n) * time.Minute)
	return []event{
		{"OrderPlaced", orderID, OrderPlaced{
			EventID: uuid.NewString(), OccurredAt: at, OrderID: orderID, Buyer: "LTU",
			Supplier: "Go Munitions UAB", ItemDescription: "155mm HE shell",
			CaliberMM: ptr(int64(155)), Quantity: int64(2000 + n), UnitPrice: decimal("2875.25"),
			Currency: "EUR", USDRate: decimal("1.0841"), Purpose: "NATIONAL_STOCKPILE",
			Destination: ptr("LTU"), SupplierCountry: ptr("LTU"),
			ContractRef: ptr(fmt.Sprintf("GX-%d", n)), ExpectedDelivery: ptr(at.AddDate(0, 3, 0)),
		}},
		{"DeliveryRecorded", orderID, DeliveryRecorded{
			EventID: uuid.NewString(), OccurredAt: at.AddDate(0, 1, 0), OrderID: orderID,
			DeliveryID: fmt.Sprintf("LOT-%d", n), Quantity: 500, Destination: ptr("LTU"),
		}},
		{"PaymentRecorded", orderID, PaymentRecorded{
			EventID: uuid.NewString(), OccurredAt: at.AddDate(0, 1, 1), OrderID: orderID,
			PaymentID: fmt.Sprintf("PAY-%d", n), Amount: decimal("50000.00"), Currency: "EUR",
			USDRate: decimal("1.09"),
		}},
	}
}
