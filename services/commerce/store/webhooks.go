package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	commercev1 "github.com/selfserve/selfserve/gen/go/selfserve/commerce/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/names"
)

// Webhook patterns and limits.
const (
	WebhookPattern  = names.Webhook
	DeliveryPattern = names.Delivery
	// MaxWebhooks is how many endpoints an organization may register.
	MaxWebhooks = 10
	// DeliveryLog is how many finished deliveries an endpoint's log keeps;
	// pending ones are never dropped.
	DeliveryLog = 1000
)

// Buckets of webhooks. An event reaches an endpoint in three steps: InsertEvent
// marks it in webhookFanout in the event's own transaction; FanOut turns the
// mark into one delivery per endpoint that asked for the event's type (a
// record in webhookDeliveries and an entry in webhookQueue); the sender
// claims, sends and settles the entries at the head of each resource's
// queue, so that one resource's events arrive in order.
var (
	// webhooks: {org}\0{webhook} → Webhook, its secret included
	webhooks = []byte("webhooks")
	// webhook_fanout: an events key → nothing; the events not fanned out yet
	webhookFanout = []byte("webhook_fanout")
	// webhook_deliveries: {org}\0{webhook}\0{delivery} → WebhookDelivery;
	// delivery ids are "d", the time it was queued and a sequence number, in hex
	webhookDeliveries = []byte("webhook_deliveries")
	// webhook_queue: {org}\0{webhook}\0{resource}\0{queued time, 16 hex digits}{delivery}
	// → queueEntry; the deliveries still to be sent
	webhookQueue = []byte("webhook_queue")
	// webhook_log_sizes: {org}\0{webhook} → how many deliveries its log holds
	webhookLogSizes = []byte("webhook_log_sizes")

	webhookBuckets = [][]byte{webhooks, webhookFanout, webhookDeliveries, webhookQueue, webhookLogSizes}
)

// queueEntry is a queued delivery's schedule: when its next attempt is due,
// until when an attempt in flight holds it (a sender's lease), and when its
// schedule started (retries give up GiveUpAfter from there).
type queueEntry struct {
	due, lease, start time.Time
}

func (q queueEntry) encode() []byte {
	b := make([]byte, 0, 24)
	for _, t := range []time.Time{q.due, q.lease, q.start} {
		b = binary.BigEndian.AppendUint64(b, uint64(t.UnixNano()))
	}
	return b
}

func decodeQueueEntry(v []byte) (queueEntry, error) {
	if len(v) != 24 {
		return queueEntry{}, fmt.Errorf("webhook queue entry of %d bytes", len(v))
	}
	at := func(i int) time.Time { return time.Unix(0, int64(binary.BigEndian.Uint64(v[8*i:]))) }
	return queueEntry{due: at(0), lease: at(1), start: at(2)}, nil
}

// WebhookName is the resource name of an organization's endpoint.
func WebhookName(org, id string) string { return names.Format(WebhookPattern, org, id) }

// DeliveryName is the resource name of a delivery.
func DeliveryName(org, webhook, id string) string {
	return names.Format(DeliveryPattern, org, webhook, id)
}

// NewWebhookID is an endpoint id that sorts by when it was made.
func NewWebhookID(now time.Time, random uint16) string {
	return fmt.Sprintf("wh-%016x%04x", uint64(now.UnixNano()), random)
}

// CreateWebhook stores a new endpoint of org (w carries its name and secret);
// RESOURCE_EXHAUSTED past MaxWebhooks.
func CreateWebhook(tx kv.Tx, org, id string, w *commercev1.Webhook) error {
	n := 0
	err := kv.Scan(tx.Bucket(webhooks), kv.Prefix(org), nil, func(k, v []byte) (bool, error) {
		n++
		return n < MaxWebhooks, nil
	})
	if err != nil {
		return err
	}
	if n >= MaxWebhooks {
		return errs.New(errs.ResourceExhausted, "an organization may register at most %d webhooks", MaxWebhooks).With("max", fmt.Sprint(MaxWebhooks))
	}
	return kv.Put(tx.Bucket(webhooks), kv.Key(org, id), w)
}

// GetWebhook reads an endpoint, its secret included; NOT_FOUND when absent.
func GetWebhook(tx kv.Tx, org, id string) (*commercev1.Webhook, error) {
	w := &commercev1.Webhook{}
	ok, err := kv.Get(tx.Bucket(webhooks), kv.Key(org, id), w)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errs.NotFound(WebhookName(org, id))
	}
	return w, nil
}

// ListWebhooks returns up to size endpoints of org after the cursor, oldest
// first, with their secrets, and the next page's cursor.
func ListWebhooks(tx kv.Tx, org string, after []byte, size int) ([]*commercev1.Webhook, []byte, error) {
	prefix := kv.Prefix(org)
	if after != nil && !bytes.HasPrefix(after, prefix) {
		return nil, nil, errs.New(errs.InvalidPageToken, "page_token is not valid for this request").With("field", "page_token")
	}
	return kv.Page(tx.Bucket(webhooks), prefix, after, size, false, func(k, v []byte) (*commercev1.Webhook, bool, error) {
		w := &commercev1.Webhook{}
		_, err := kv.Get(tx.Bucket(webhooks), k, w)
		return w, err == nil, err
	})
}

// DeleteWebhook removes an endpoint, its queue and its delivery log.
func DeleteWebhook(tx kv.Tx, org, id string) error {
	if _, err := GetWebhook(tx, org, id); err != nil {
		return err
	}
	prefix := kv.Prefix(org, id)
	for _, b := range [][]byte{webhookQueue, webhookDeliveries} {
		if err := deletePrefix(tx.Bucket(b), prefix); err != nil {
			return err
		}
	}
	if err := tx.Bucket(webhookLogSizes).Delete(kv.Key(org, id)); err != nil {
		return err
	}
	return tx.Bucket(webhooks).Delete(kv.Key(org, id))
}

// deletePrefix removes every key of b under prefix.
func deletePrefix(b kv.Bucket, prefix []byte) error {
	var keys [][]byte
	err := kv.Scan(b, prefix, nil, func(k, _ []byte) (bool, error) {
		keys = append(keys, bytes.Clone(k))
		return true, nil
	})
	for _, k := range keys {
		if err == nil {
			err = b.Delete(k)
		}
	}
	return err
}

// markForWebhooks marks an event, by its events key, for FanOut.
func markForWebhooks(tx kv.Tx, eventKey []byte) error {
	return tx.Bucket(webhookFanout).Put(eventKey, []byte{})
}

// Unfanned tells whether events wait for FanOut: a read that saves the
// sender a write transaction (a bbolt commit writes its meta page even
// when nothing changed) on every idle round.
func Unfanned(tx kv.Tx) bool {
	k, _ := tx.Bucket(webhookFanout).Cursor().First()
	return k != nil
}

// FanOut turns up to limit marked events into deliveries queued at now, one
// per endpoint of the event's organization that takes its type, and
// reports how many events it went through (0: none was waiting).
func FanOut(tx kv.Tx, now time.Time, limit int) (int, error) {
	type mark struct{ key []byte }
	var marks []mark
	err := kv.Scan(tx.Bucket(webhookFanout), nil, nil, func(k, _ []byte) (bool, error) {
		marks = append(marks, mark{bytes.Clone(k)})
		return len(marks) < limit, nil
	})
	if err != nil || len(marks) == 0 {
		return 0, err
	}
	endpoints := map[string][]*commercev1.Webhook{}
	for _, m := range marks {
		if err := tx.Bucket(webhookFanout).Delete(m.key); err != nil {
			return 0, err
		}
		org := kv.Split(m.key)[0]
		hooks, seen := endpoints[org]
		if !seen {
			hooks, _, err = ListWebhooks(tx, org, nil, MaxWebhooks)
			if err != nil {
				return 0, err
			}
			endpoints[org] = hooks
		}
		if len(hooks) == 0 {
			continue
		}
		e := &commercev1.Event{}
		ok, err := kv.Get(tx.Bucket(eventsBucket), m.key, e)
		if err != nil {
			return 0, err
		}
		if !ok {
			continue
		}
		for _, w := range hooks {
			if !takes(w, e.GetType()) {
				continue
			}
			if err := queueDelivery(tx, org, w, e, now); err != nil {
				return 0, err
			}
		}
	}
	return len(marks), nil
}

// takes tells whether an endpoint receives events of type t.
func takes(w *commercev1.Webhook, t commercev1.Event_Type) bool {
	return len(w.GetEventTypes()) == 0 || slices.Contains(w.GetEventTypes(), t)
}

// queueDelivery records a delivery of e to w, due at once, and trims w's
// log of its oldest finished deliveries past DeliveryLog.
func queueDelivery(tx kv.Tx, org string, w *commercev1.Webhook, e *commercev1.Event, now time.Time) error {
	wid := idOf(w.GetName())
	seq, err := tx.Bucket(webhookDeliveries).NextSequence()
	if err != nil {
		return err
	}
	id := fmt.Sprintf("d%016x%016x", uint64(now.UnixNano()), seq)
	d := &commercev1.WebhookDelivery{
		Name:            DeliveryName(org, wid, id),
		Event:           e.GetName(),
		EventType:       e.GetType(),
		Resource:        e.GetResource(),
		State:           commercev1.WebhookDelivery_PENDING,
		CreateTime:      timestamppb.New(now),
		NextAttemptTime: timestamppb.New(now),
	}
	if err := kv.Put(tx.Bucket(webhookDeliveries), kv.Key(org, wid, id), d); err != nil {
		return err
	}
	q := queueEntry{due: now, lease: time.Unix(0, 0), start: now}
	if err := tx.Bucket(webhookQueue).Put(queueKey(org, wid, d), q.encode()); err != nil {
		return err
	}
	return trimLog(tx, org, wid)
}

// queueKey is a delivery's place in the queue: behind the earlier events of
// its resource at the same endpoint.
func queueKey(org, webhook string, d *commercev1.WebhookDelivery) []byte {
	k := kv.Prefix(org, webhook, d.GetResource())
	// The time it was queued (events are fanned out in the order they were
	// recorded), in fixed-width hex: the key's last 0 byte stays the one
	// that ends the resource.
	k = fmt.Appendf(k, "%016x", uint64(d.GetCreateTime().AsTime().UnixNano()))
	return append(k, idOf(d.GetName())...)
}

// trimLog counts a new delivery in the log of (org, webhook) and drops its
// oldest finished deliveries while the log is longer than DeliveryLog.
func trimLog(tx kv.Tx, org, webhook string) error {
	sizes := tx.Bucket(webhookLogSizes)
	sk := kv.Key(org, webhook)
	n := uint64(0)
	if v := sizes.Get(sk); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n++
	if n > DeliveryLog {
		prefix := kv.Prefix(org, webhook)
		c := tx.Bucket(webhookDeliveries).Cursor()
		if k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
			d := &commercev1.WebhookDelivery{}
			if _, err := kv.Get(tx.Bucket(webhookDeliveries), k, d); err != nil {
				return err
			}
			if d.GetState() != commercev1.WebhookDelivery_PENDING {
				if err := tx.Bucket(webhookDeliveries).Delete(bytes.Clone(k)); err != nil {
					return err
				}
				n--
			}
		}
	}
	return sizes.Put(sk, kv.Uint64(n))
}

// ListDeliveries returns up to size deliveries of an endpoint, newest first,
// before the cursor, and the next page's cursor; NOT_FOUND for an endpoint
// that does not exist.
func ListDeliveries(tx kv.Tx, org, webhook string, before []byte, size int) ([]*commercev1.WebhookDelivery, []byte, error) {
	if _, err := GetWebhook(tx, org, webhook); err != nil {
		return nil, nil, err
	}
	prefix := kv.Prefix(org, webhook)
	if before != nil && !bytes.HasPrefix(before, prefix) {
		return nil, nil, errs.New(errs.InvalidPageToken, "page_token is not valid for this request").With("field", "page_token")
	}
	return kv.Page(tx.Bucket(webhookDeliveries), prefix, before, size, true, func(k, v []byte) (*commercev1.WebhookDelivery, bool, error) {
		d := &commercev1.WebhookDelivery{}
		_, err := kv.Get(tx.Bucket(webhookDeliveries), k, d)
		return d, err == nil, err
	})
}

// GetDelivery reads a delivery; NOT_FOUND when absent.
func GetDelivery(tx kv.Tx, org, webhook, id string) (*commercev1.WebhookDelivery, error) {
	d := &commercev1.WebhookDelivery{}
	ok, err := kv.Get(tx.Bucket(webhookDeliveries), kv.Key(org, webhook, id), d)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errs.NotFound(DeliveryName(org, webhook, id))
	}
	return d, nil
}

// Redeliver queues a delivery again at now with a fresh schedule, whatever
// its state; one still queued is made due at once.
func Redeliver(tx kv.Tx, org, webhook, id string, now time.Time) (*commercev1.WebhookDelivery, error) {
	if _, err := GetWebhook(tx, org, webhook); err != nil {
		return nil, err
	}
	d, err := GetDelivery(tx, org, webhook, id)
	if err != nil {
		return nil, err
	}
	q := queueEntry{due: now, lease: time.Unix(0, 0), start: now}
	qk := queueKey(org, webhook, d)
	if v := tx.Bucket(webhookQueue).Get(qk); v != nil {
		old, err := decodeQueueEntry(v)
		if err != nil {
			return nil, err
		}
		// An attempt in flight keeps its lease: it settles first.
		q.lease = old.lease
	}
	if err := tx.Bucket(webhookQueue).Put(qk, q.encode()); err != nil {
		return nil, err
	}
	d.State = commercev1.WebhookDelivery_PENDING
	d.NextAttemptTime = timestamppb.New(now)
	d.DeliverTime = nil
	return d, kv.Put(tx.Bucket(webhookDeliveries), kv.Key(org, webhook, id), d)
}

// QueueRef points at a queued delivery.
type QueueRef struct {
	Key                    []byte
	Org, Webhook, Delivery string
}

// DueDeliveries returns up to limit queued deliveries that may be attempted
// at now: each the first of its resource's queue at its endpoint, due, and
// not held by an attempt in flight. The ones behind wait their turn.
func DueDeliveries(tx kv.Tx, now time.Time, limit int) ([]QueueRef, error) {
	var out []QueueRef
	var chain []byte
	err := kv.Scan(tx.Bucket(webhookQueue), nil, nil, func(k, v []byte) (bool, error) {
		// The chain of a key is everything up to its last separator.
		c := k[:bytes.LastIndexByte(k, 0)+1]
		if chain != nil && bytes.Equal(c, chain) {
			return true, nil
		}
		chain = bytes.Clone(c)
		q, err := decodeQueueEntry(v)
		if err != nil {
			return false, err
		}
		if q.due.After(now) || q.lease.After(now) {
			return true, nil
		}
		parts := kv.Split(c)
		tail := k[len(c):]
		if len(parts) < 3 || len(tail) <= 16 {
			return false, fmt.Errorf("webhook queue key %q", k)
		}
		out = append(out, QueueRef{Key: bytes.Clone(k), Org: parts[0], Webhook: parts[1], Delivery: string(tail[16:])})
		return len(out) < limit, nil
	})
	return out, err
}

// Attempt is a claimed delivery: what to send and where.
type Attempt struct {
	Ref      QueueRef
	Delivery *commercev1.WebhookDelivery
	Webhook  *commercev1.Webhook
	// Event is nil when the feed no longer holds the event.
	Event *commercev1.Event
	lease time.Time
}

// Claim takes a due delivery for an attempt at now, held until now+lease
// (another sender may take it after that); false when it is no longer
// due, already held, or gone.
func Claim(tx kv.Tx, ref QueueRef, now time.Time, lease time.Duration) (*Attempt, bool, error) {
	v := tx.Bucket(webhookQueue).Get(ref.Key)
	if v == nil {
		return nil, false, nil
	}
	q, err := decodeQueueEntry(v)
	if err != nil {
		return nil, false, err
	}
	if q.due.After(now) || q.lease.After(now) {
		return nil, false, nil
	}
	w, err := GetWebhook(tx, ref.Org, ref.Webhook)
	if err != nil {
		return nil, false, err
	}
	d, err := GetDelivery(tx, ref.Org, ref.Webhook, ref.Delivery)
	if err != nil {
		return nil, false, err
	}
	e, err := GetEvent(tx, d.GetEvent())
	if err != nil {
		return nil, false, err
	}
	q.lease = now.Add(lease)
	if err := tx.Bucket(webhookQueue).Put(ref.Key, q.encode()); err != nil {
		return nil, false, err
	}
	d.Attempts++
	d.LastAttemptTime = timestamppb.New(now)
	if err := kv.Put(tx.Bucket(webhookDeliveries), kv.Key(ref.Org, ref.Webhook, ref.Delivery), d); err != nil {
		return nil, false, err
	}
	return &Attempt{Ref: ref, Delivery: d, Webhook: w, Event: e, lease: q.lease}, true, nil
}

// Outcome is how an attempt ended.
type Outcome struct {
	Status int   // HTTP status; 0 when none came back
	Err    error // nil when the endpoint answered 2xx
	At     time.Time
}

// Settle records an attempt's outcome: DELIVERED and out of the queue on
// success; otherwise due again at next, or FAILED and out of the queue when
// next is false (the schedule gave up). It answers the delivery's new state,
// or STATE_UNSPECIFIED when it recorded nothing: the attempt's lease ran out
// and another sender has taken the delivery since.
func Settle(tx kv.Tx, a *Attempt, o Outcome, next func(start time.Time, n int) (time.Time, bool)) (commercev1.WebhookDelivery_State, error) {
	none := commercev1.WebhookDelivery_STATE_UNSPECIFIED
	v := tx.Bucket(webhookQueue).Get(a.Ref.Key)
	if v == nil {
		return none, nil
	}
	q, err := decodeQueueEntry(v)
	if err != nil {
		return none, err
	}
	if !q.lease.Equal(a.lease) {
		return none, nil
	}
	d, err := GetDelivery(tx, a.Ref.Org, a.Ref.Webhook, a.Ref.Delivery)
	if err != nil {
		return none, err
	}
	d.LastStatusCode = int32(o.Status)
	d.LastError = ""
	d.NextAttemptTime = nil
	remove := true
	if o.Err == nil {
		d.State = commercev1.WebhookDelivery_DELIVERED
		d.DeliverTime = timestamppb.New(o.At)
	} else if due, retry := next(q.start, int(d.GetAttempts())); retry {
		d.LastError = o.Err.Error()
		d.State = commercev1.WebhookDelivery_PENDING
		d.NextAttemptTime = timestamppb.New(due)
		q.due, q.lease, remove = due, time.Unix(0, 0), false
	} else {
		d.LastError = o.Err.Error()
		d.State = commercev1.WebhookDelivery_FAILED
	}
	if remove {
		err = tx.Bucket(webhookQueue).Delete(a.Ref.Key)
	} else {
		err = tx.Bucket(webhookQueue).Put(a.Ref.Key, q.encode())
	}
	if err != nil {
		return none, err
	}
	return d.GetState(), kv.Put(tx.Bucket(webhookDeliveries), kv.Key(a.Ref.Org, a.Ref.Webhook, a.Ref.Delivery), d)
}

// GetEvent reads an event by its name; nil when the feed does not hold it.
func GetEvent(tx kv.Tx, name string) (*commercev1.Event, error) {
	k := tx.Bucket(eventNames).Get([]byte(name))
	if k == nil {
		return nil, nil
	}
	e := &commercev1.Event{}
	ok, err := kv.Get(tx.Bucket(eventsBucket), k, e)
	if err != nil || !ok {
		return nil, err
	}
	return e, nil
}

// WebhookBacklog counts the events not fanned out yet and the deliveries
// queued, for the backlog gauges.
func WebhookBacklog(tx kv.Tx) (fanout, queued int) {
	return kv.Count(tx.Bucket(webhookFanout)), kv.Count(tx.Bucket(webhookQueue))
}

// idOf is the last id of a resource name.
func idOf(name string) string { return name[strings.LastIndexByte(name, '/')+1:] }
