package store

import (
	"bytes"
	"encoding/binary"
	"time"

	"google.golang.org/protobuf/proto"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/names"
)

// Buckets of subscriptions, declared with the others in store.go.
var (
	// subscriptions: {org}\0{sub} → Subscription as stored (assigned counts come from licensing)
	subscriptionsBucket = []byte("subscriptions")
	// subscription_meta: {org}\0{sub} → Meta (see meta.go)
	subscriptionMeta = []byte("subscription_meta")
	// subscription_owners: {org}\0{purchaser}\0{sub} → nothing
	subscriptionOwners = []byte("subscription_owners")
	// lifecycle_due: next lifecycle time (8 bytes) + {org}\0{sub} → nothing
	lifecycleDue = []byte("lifecycle_due")
	// pending_steps: {org}\0{sub} → nothing, while cross-service steps wait
	pendingSteps = []byte("pending_steps")
	// orders: {org}\0{sub}\0{sequence, 8 bytes} → Order
	ordersBucket = []byte("orders")
	// trials_used: {org}\0{product} → the trial's subscription name
	trialsUsed = []byte("trials_used")
)

// Line is a line of a charge to make.
type Line struct {
	Type        int32  `json:"type"`
	Description string `json:"description"`
	// Descriptions are the description in each language, by locale.Code.
	Descriptions map[string]string `json:"descriptions,omitempty"`
	Quantity     int32             `json:"quantity"`
	Start        time.Time         `json:"start"`
	End          time.Time         `json:"end"`
	Amount       int64             `json:"amount"`
}

// StepKind says what a Step does; its value is what the store holds.
type StepKind string

// The kinds of Step.
const (
	StepCharge     StepKind = "charge"      // billing's Charge
	StepCreatePool StepKind = "create_pool" // licensing's CreatePool
	StepResizePool StepKind = "resize_pool" // licensing's ResizePool
	StepPoolState  StepKind = "pool_state"  // licensing's SetPoolState
	StepDeletePool StepKind = "delete_pool" // licensing's DeletePool
	StepTransfer   StepKind = "transfer"    // licensing's TransferAssignments
	StepEvent      StepKind = "event"       // the audit event, written here when the steps before it are done
)

// Remote tells whether a step is a call to another service.
func (k StepKind) Remote() bool { return k != StepEvent }

// Step is one cross-service call a change still has to make, recorded with
// the change before it is sent and removed once acknowledged.
type Step struct {
	Kind      StepKind `json:"kind"`
	Key       string   `json:"key,omitempty"`
	Profile   string   `json:"profile,omitempty"`
	Lines     []Line   `json:"lines,omitempty"`
	PastDue   bool     `json:"past_due,omitempty"` // a failed charge leaves the invoice PAST_DUE instead of undoing the change
	Order     uint64   `json:"order,omitempty"`    // the order the invoice belongs to
	Total     int32    `json:"total,omitempty"`
	State     int32    `json:"state,omitempty"`
	Version   int64    `json:"version,omitempty"`
	Target    string   `json:"target,omitempty"`
	Actor     string   `json:"actor,omitempty"`
	Channel   int32    `json:"channel,omitempty"`
	Product   string   `json:"product,omitempty"`
	Purchaser string   `json:"purchaser,omitempty"`
	// event steps: the audit event written when the change completes
	EventType int32             `json:"event_type,omitempty"`
	ActorName string            `json:"actor_name,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
}

// Meta is what only commerce sees of a subscription.
type Meta struct {
	Version           int64     `json:"version"`
	Currency          string    `json:"currency"`
	Anchor            time.Time `json:"anchor"` // purchase, renewal or last increase: starts the grace period
	TrialNeedsPayment bool      `json:"trial_needs_payment,omitempty"`
	DisabledAt        time.Time `json:"disabled_at,omitzero"`
	LastOrder         uint64    `json:"last_order"`
	Pending           []Step    `json:"pending,omitempty"`
	// Undo is the subscription as it was before a change whose charge may
	// still be declined; nil when a decline undoes nothing.
	Undo []byte `json:"undo,omitempty"`
	// Hidden marks a purchase or trial not yet complete: not listed, not shown.
	Hidden bool `json:"hidden,omitempty"`
	// Declined is the decline code of a purchase that was never paid.
	Declined string `json:"declined,omitempty"`
	// TakenOver records who took a self-service subscription over.
	TakenOver string `json:"taken_over,omitempty"`
}

func dueKey(t time.Time, org, id string) []byte {
	return append(kv.Uint64(uint64(t.UnixNano())), kv.Key(org, id)...)
}

// GetSubscription reads a subscription and its meta; NOT_FOUND when absent.
func GetSubscription(tx kv.Tx, org, id string) (*commercev1.Subscription, *Meta, error) {
	s := &commercev1.Subscription{}
	ok, err := kv.Get(tx.Bucket(subscriptionsBucket), kv.Key(org, id), s)
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, errs.NotFound(names.Format(names.Subscription, org, id))
	}
	m := &Meta{}
	if err := decodeMeta(tx.Bucket(subscriptionMeta).Get(kv.Key(org, id)), m); err != nil {
		return nil, nil, err
	}
	return s, m, nil
}

// PutSubscription writes a subscription and its meta and keeps the indexes
// in step: the purchaser's list, the lifecycle schedule, the pending steps.
// What is already as it should be (the subscription when only its meta
// changes, an index entry) is left alone: a bbolt Put rewrites its page
// even when nothing changes.
func PutSubscription(tx kv.Tx, org, id, purchaserID string, s *commercev1.Subscription, m *Meta) error {
	key := kv.Key(org, id)
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(s)
	if err != nil {
		return err
	}
	subs := tx.Bucket(subscriptionsBucket)
	if old := subs.Get(key); old == nil || !bytes.Equal(old, v) {
		if err := reschedule(tx, org, id, old, s); err != nil {
			return err
		}
		if err := subs.Put(key, v); err != nil {
			return err
		}
	}
	mv, err := encodeMeta(m)
	if err != nil {
		return err
	}
	if err := tx.Bucket(subscriptionMeta).Put(key, mv); err != nil {
		return err
	}
	if err := putIndex(tx.Bucket(subscriptionOwners), kv.Key(org, purchaserID, id)); err != nil {
		return err
	}
	if len(m.Pending) > 0 {
		return putIndex(tx.Bucket(pendingSteps), key)
	}
	return tx.Bucket(pendingSteps).Delete(key)
}

// reschedule moves a subscription in the lifecycle schedule from where old
// (its stored bytes, nil if new) had it to where s has it.
func reschedule(tx kv.Tx, org, id string, old []byte, s *commercev1.Subscription) error {
	var oldDue []byte
	if old != nil {
		o := &commercev1.Subscription{}
		if err := proto.Unmarshal(old, o); err != nil {
			return err
		}
		if o.GetNextLifecycleTime() != nil {
			oldDue = dueKey(o.GetNextLifecycleTime().AsTime(), org, id)
		}
	}
	var newDue []byte
	if s.GetNextLifecycleTime() != nil {
		newDue = dueKey(s.GetNextLifecycleTime().AsTime(), org, id)
	}
	if bytes.Equal(oldDue, newDue) {
		return nil
	}
	due := tx.Bucket(lifecycleDue)
	if oldDue != nil {
		if err := due.Delete(oldDue); err != nil {
			return err
		}
	}
	if newDue != nil {
		return due.Put(newDue, nil)
	}
	return nil
}

// putIndex writes an index key (no value) unless it is there already.
func putIndex(b kv.Bucket, key []byte) error {
	if k, _ := b.Cursor().Seek(key); bytes.Equal(k, key) {
		return nil
	}
	return b.Put(key, nil)
}

// ListSubscriptions lists an organization's subscriptions in id order,
// those keep accepts.
func ListSubscriptions(tx kv.Tx, org string, after []byte, size int, keep func(*commercev1.Subscription) bool) ([]*commercev1.Subscription, []byte, error) {
	return subscriptionsPage(tx, tx.Bucket(subscriptionsBucket), kv.Prefix(org), after, size, func(k []byte) (string, string) {
		p := kv.Split(k)
		return p[0], p[1]
	}, keep)
}

// ListOwnSubscriptions lists a purchaser's subscriptions.
func ListOwnSubscriptions(tx kv.Tx, org, purchaser string, after []byte, size int, keep func(*commercev1.Subscription) bool) ([]*commercev1.Subscription, []byte, error) {
	return subscriptionsPage(tx, tx.Bucket(subscriptionOwners), kv.Prefix(org, purchaser), after, size, func(k []byte) (string, string) {
		p := kv.Split(k)
		return p[0], p[2]
	}, keep)
}

func subscriptionsPage(tx kv.Tx, b kv.Bucket, prefix, after []byte, size int, ids func([]byte) (string, string), keep func(*commercev1.Subscription) bool) ([]*commercev1.Subscription, []byte, error) {
	if kv.Prefetches(tx) {
		// On etcd: the page's subscriptions and metas in one round trip.
		var refs []kv.Ref
		kv.Scan(b, prefix, after, func(k, _ []byte) (bool, error) {
			org, id := ids(k)
			refs = append(refs, kv.Ref{Bucket: subscriptionsBucket, Key: kv.Key(org, id)}, kv.Ref{Bucket: subscriptionMeta, Key: kv.Key(org, id)})
			return len(refs) < 2*(size+1), nil
		})
		kv.Prefetch(tx, refs...)
	}
	return kv.Page(b, prefix, after, size, false, func(k, _ []byte) (*commercev1.Subscription, bool, error) {
		org, id := ids(k)
		key := kv.Key(org, id)
		s := &commercev1.Subscription{}
		if ok, err := kv.Get(tx.Bucket(subscriptionsBucket), key, s); err != nil || !ok {
			if err == nil {
				err = errs.NotFound(names.Format(names.Subscription, org, id))
			}
			return nil, false, err
		}
		hidden, err := metaHidden(tx.Bucket(subscriptionMeta).Get(key))
		if err != nil {
			return nil, false, err
		}
		return s, !hidden && keep(s), nil
	})
}

// Due lists up to limit subscriptions whose lifecycle is due at now, as
// {org, id} pairs, soonest first.
func Due(tx kv.Tx, now time.Time, limit int) ([][2]string, error) {
	var out [][2]string
	c := tx.Bucket(lifecycleDue).Cursor()
	for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
		if int64(binary.BigEndian.Uint64(k[:8])) > now.UnixNano() {
			break
		}
		p := kv.Split(k[8:])
		out = append(out, [2]string{p[0], p[1]})
	}
	return out, nil
}

// NextSubscriptionSeq is a new number for a subscription id: unique in the
// store, and increasing within a process.
func NextSubscriptionSeq(tx kv.Tx) (uint64, error) {
	return tx.Bucket(subscriptionsBucket).NextSequence()
}

// CountPendingSteps counts the subscriptions with steps to send.
func CountPendingSteps(tx kv.Tx) int { return kv.Count(tx.Bucket(pendingSteps)) }

// WithPendingSteps lists up to limit subscriptions with steps to send.
func WithPendingSteps(tx kv.Tx, limit int) ([][2]string, error) {
	var out [][2]string
	c := tx.Bucket(pendingSteps).Cursor()
	for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
		p := kv.Split(k)
		out = append(out, [2]string{p[0], p[1]})
	}
	return out, nil
}

// AddOrder appends an order to a subscription's history and returns its number.
func AddOrder(tx kv.Tx, org, id string, m *Meta, o *commercev1.Order) (uint64, error) {
	m.LastOrder++
	o.Name = names.Format(names.Order, org, id, OrderID(m.LastOrder))
	return m.LastOrder, kv.Put(tx.Bucket(ordersBucket), append(kv.Prefix(org, id), kv.Uint64(m.LastOrder)...), o)
}

// OrderID is the resource id of a subscription's n-th order.
func OrderID(n uint64) string { return "o" + leftPad(n) }

func leftPad(n uint64) string {
	b := []byte("00000000")
	for i := len(b) - 1; i >= 0 && n > 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b)
}

// SetOrderInvoice records the invoice of an order.
func SetOrderInvoice(tx kv.Tx, org, id string, n uint64, invoice string, amount *commercev1.Money) error {
	k := append(kv.Prefix(org, id), kv.Uint64(n)...)
	o := &commercev1.Order{}
	if ok, err := kv.Get(tx.Bucket(ordersBucket), k, o); err != nil || !ok {
		return err
	}
	o.Invoice = invoice
	if amount != nil {
		o.Amount = amount
	}
	return kv.Put(tx.Bucket(ordersBucket), k, o)
}

// ListOrders lists a subscription's orders, oldest first.
func ListOrders(tx kv.Tx, org, id string, after []byte, size int) ([]*commercev1.Order, []byte, error) {
	return kv.Page(tx.Bucket(ordersBucket), kv.Prefix(org, id), after, size, false, func(_, v []byte) (*commercev1.Order, bool, error) {
		o := &commercev1.Order{}
		return o, true, proto.Unmarshal(v, o)
	})
}

// TrialUsed names the subscription of an organization's trial of a product,
// if there was one.
func TrialUsed(tx kv.Tx, org, product string) string {
	return string(tx.Bucket(trialsUsed).Get(kv.Key(org, product)))
}

// UseTrial records an organization's one trial of a product.
func UseTrial(tx kv.Tx, org, product, sub string) error {
	return tx.Bucket(trialsUsed).Put(kv.Key(org, product), []byte(sub))
}

// ReleaseTrial forgets a trial that never started (its payment was declined).
func ReleaseTrial(tx kv.Tx, org, product string) error {
	return tx.Bucket(trialsUsed).Delete(kv.Key(org, product))
}
