package store

import (
	"google.golang.org/protobuf/proto"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/kit/kv"
)

// InsertPaymentEvent records a payment event once by name and queues it for
// the subscriptions; it reports whether it was new.
func InsertPaymentEvent(tx kv.Tx, e *commercev1.PaymentEvent) (bool, error) {
	b := tx.Bucket(paymentEvents)
	if b.Get([]byte(e.GetName())) != nil {
		return false, nil
	}
	if err := kv.Put(b, []byte(e.GetName()), e); err != nil {
		return false, err
	}
	inbox := tx.Bucket(paymentInbox)
	n, err := inbox.NextSequence()
	if err != nil {
		return false, err
	}
	return true, inbox.Put(kv.Uint64(n), []byte(e.GetName()))
}

// PendingPaymentEvents lists up to limit queued payment events, oldest first,
// with their inbox keys (to remove once acted on).
func PendingPaymentEvents(tx kv.Tx, limit int) ([][]byte, []*commercev1.PaymentEvent, error) {
	var keys [][]byte
	var out []*commercev1.PaymentEvent
	c := tx.Bucket(paymentInbox).Cursor()
	for k, name := c.First(); k != nil && len(out) < limit; k, name = c.Next() {
		e := &commercev1.PaymentEvent{}
		if err := proto.Unmarshal(tx.Bucket(paymentEvents).Get(name), e); err != nil {
			return nil, nil, err
		}
		keys = append(keys, append([]byte(nil), k...))
		out = append(out, e)
	}
	return keys, out, nil
}

// DonePaymentEvent takes a payment event, by the key PendingPaymentEvents
// answered, out of the inbox.
func DonePaymentEvent(tx kv.Tx, key []byte) error { return tx.Bucket(paymentInbox).Delete(key) }
