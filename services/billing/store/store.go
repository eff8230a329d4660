// Package store keeps the billing service's data in bbolt: billing accounts,
// profiles, payment methods (never a card number or security code), charges
// and invoices, and the outboxes to commerce.
package store

import (
	"github.com/selfserve/selfserve/services/kit/idem"
	"github.com/selfserve/selfserve/services/kit/kv"
)

// Buckets, declared once. Keys are composite (kv.Key) of the ids named.
var (
	// accounts: {org}\0{account} → BillingAccount
	Accounts = []byte("accounts")
	// account_owners: {org}\0{owner}\0{account} → nothing
	AccountOwners = []byte("account_owners")
	// account_clouds: {org}\0{account} → the organization's cloud, one byte
	AccountClouds = []byte("account_clouds")
	// profiles: {org}\0{account}\0{profile} → BillingProfile
	Profiles = []byte("profiles")
	// payment_methods: {org}\0{account}\0{method} → PaymentMethod as shown
	PaymentMethods = []byte("payment_methods")
	// payment_tokens: {org}\0{account}\0{method} → the processor's token
	PaymentTokens = []byte("payment_tokens")
	// invoices: {org}\0{account}\0{invoice} → Invoice
	Invoices = []byte("invoices")
	// invoice_times: {org}\0{account}\0 + issue time (8 bytes) + {invoice} → nothing
	InvoiceTimes = []byte("invoice_times")
	// invoice_texts: {org}\0{account}\0{invoice} → the description of each
	// line in every language, for invoices that have them
	InvoiceTexts = []byte("invoice_texts")
	// invoice_numbers: {org}\0{account} → the last invoice number, 8 bytes
	InvoiceNumbers = []byte("invoice_numbers")
	// charges: {org}\0{key} → Charge (JSON): the billable event behind an invoice
	Charges = []byte("charges")
	// retries: next attempt time (8 bytes) + {org}\0{key} → nothing
	Retries = []byte("retries")
	// audit_outbox: audit events for commerce's feed
	AuditOutbox = []byte("audit_outbox")
	// payment_outbox: payment events for commerce's subscriptions
	PaymentOutbox = []byte("payment_outbox")

	buckets = [][]byte{Accounts, AccountOwners, AccountClouds, Profiles, PaymentMethods, PaymentTokens,
		Invoices, InvoiceTimes, InvoiceTexts, InvoiceNumbers, Charges, Retries, AuditOutbox, PaymentOutbox, idem.Bucket}
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
