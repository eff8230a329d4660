// Package store keeps the billing service's data in bbolt: billing accounts,
// profiles, payment methods (never a card number or security code), charges
// and invoices, and the outboxes to commerce.
package store

import (
	"log/slog"

	"github.com/selfserve/selfserve/services/kit/idem"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/outbox"
)

// Buckets, declared once. Keys are composite (kv.Key) of the ids named.
var (
	// accounts: {org}\0{account} → BillingAccount
	accountsBucket = []byte("accounts")
	// account_owners: {org}\0{owner}\0{account} → nothing
	accountOwners = []byte("account_owners")
	// account_clouds: {org}\0{account} → the organization's cloud, one byte
	accountClouds = []byte("account_clouds")
	// profiles: {org}\0{account}\0{profile} → BillingProfile
	profilesBucket = []byte("profiles")
	// payment_methods: {org}\0{account}\0{method} → PaymentMethod as shown
	paymentMethods = []byte("payment_methods")
	// payment_tokens: {org}\0{account}\0{method} → the processor's token
	paymentTokens = []byte("payment_tokens")
	// invoices: {org}\0{account}\0{invoice} → Invoice
	invoicesBucket = []byte("invoices")
	// invoice_times: {org}\0{account}\0 + issue time (8 bytes) + {invoice} → nothing
	invoiceTimes = []byte("invoice_times")
	// invoice_texts: {org}\0{account}\0{invoice} → the description of each
	// line in every language, for invoices that have them
	invoiceTexts = []byte("invoice_texts")
	// invoice_numbers: {org}\0{account} → the last invoice number, 8 bytes
	invoiceNumbers = []byte("invoice_numbers")
	// charges: {org}\0{key} → Charge (JSON): the billable event behind an invoice
	chargesBucket = []byte("charges")
	// retries: next attempt time (8 bytes) + {org}\0{key} → nothing
	retriesBucket = []byte("retries")
	// audit_outbox: audit events for commerce's feed
	auditOutbox = []byte("audit_outbox")
	// payment_outbox: payment events for commerce's subscriptions
	paymentOutbox = []byte("payment_outbox")

	buckets = [][]byte{accountsBucket, accountOwners, accountClouds, profilesBucket, paymentMethods, paymentTokens,
		invoicesBucket, invoiceTimes, invoiceTexts, invoiceNumbers, chargesBucket, retriesBucket, auditOutbox, paymentOutbox, idem.Bucket}
)

// Store is the billing store.
type Store struct {
	DB kv.DB
}

// Open opens the store file, creating its buckets.
func Open(path string) (*Store, error) {
	db, err := kv.Open(path, buckets...)
	if err != nil {
		return nil, err
	}
	return &Store{DB: db}, nil
}

// OpenWith opens the store through open: a bbolt file or an etcd prefix.
func OpenWith(open kv.Opener) (*Store, error) {
	db, err := open("billing", buckets...)
	if err != nil {
		return nil, err
	}
	return &Store{DB: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.DB.Close() }

// NewAuditOutbox is the outbox of the audit events billing sends to
// commerce; AddEvent fills it.
func NewAuditOutbox(db kv.DB, deliver outbox.Deliver, log *slog.Logger) *outbox.Outbox {
	return outbox.New(db, auditOutbox, deliver, log)
}

// NewPaymentOutbox is the outbox of the payment events billing sends to
// commerce; AddPaymentEvent fills it.
func NewPaymentOutbox(db kv.DB, deliver outbox.Deliver, log *slog.Logger) *outbox.Outbox {
	return outbox.New(db, paymentOutbox, deliver, log)
}

// AddPaymentEvent queues an encoded PaymentEvent for commerce.
func AddPaymentEvent(tx kv.Tx, v []byte) error { return outbox.Add(tx, paymentOutbox, v) }

// PendingPaymentEvents reads the encoded PaymentEvents that wait in the
// payment outbox, oldest first.
func PendingPaymentEvents(tx kv.Tx) ([][]byte, error) {
	var out [][]byte
	err := tx.Bucket(paymentOutbox).ForEach(func(_, v []byte) error {
		out = append(out, append([]byte(nil), v...))
		return nil
	})
	return out, err
}
