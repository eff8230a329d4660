// Package store keeps the commerce service's data in bbolt: the audit feed
// (events and the index that deduplicates them) and the request records.
package store

import (
	"errors"

	"github.com/selfserve/selfserve/services/kit/idem"
	"github.com/selfserve/selfserve/services/kit/kv"
)

// Buckets, declared once.
var (
	// events: {org}\0{create_time unix nanos, 8 bytes big-endian}\0{event} → Event;
	// by business time, so a reverse scan is newest first
	eventsBucket = []byte("events")
	// event_names: {event name} → its events key; an event is recorded once
	eventNames = []byte("event_names")

	// payment_events: {name} → PaymentEvent; what billing told of invoices
	paymentEvents = []byte("payment_events")
	// payment_inbox: {sequence, 8 bytes} → payment event name; the ones the
	// subscriptions have not acted on yet, in arrival order
	paymentInbox = []byte("payment_inbox")

	buckets = append([][]byte{eventsBucket, eventNames, paymentEvents, paymentInbox, productsBucket, productPolicies, selfServiceSettings, subscriptionsBucket, subscriptionMeta, subscriptionOwners,
		lifecycleDue, pendingSteps, ordersBucket, trialsUsed, idem.Bucket}, webhookBuckets...)
)

// Store is the commerce store.
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
	db, err := open("commerce", buckets...)
	if err != nil {
		return nil, err
	}
	return &Store{DB: db}, nil
}

// Close closes the file.
func (s *Store) Close() error {
	if s == nil || s.DB == nil {
		return errors.New("store not open")
	}
	return s.DB.Close()
}
