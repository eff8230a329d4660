// Package outbox delivers messages to another service reliably: a message is
// written in the same bbolt transaction as the change it tells of, then sent
// in order, in batches, and retried with backoff until the receiver
// acknowledges it; it survives restarts. Receivers deduplicate, so a batch
// delivered twice (a crash between the send and its removal) is harmless.
package outbox

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/metrics"
)

// Message is one pending message: its key in the outbox bucket and its body.
type Message struct {
	Key   []byte
	Value []byte
}

// Deliver sends a batch; nil means the receiver acknowledged all of it.
type Deliver func(ctx context.Context, batch []Message) error

// Add appends a message to the outbox bucket inside tx. Keys are the
// bucket's sequence, big-endian, so messages go out in the order they were
// written.
func Add(tx kv.Tx, bucket []byte, value []byte) error {
	b := tx.Bucket(bucket)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	return b.Put(kv.Uint64(seq), value)
}

// Outbox sends one bucket's messages.
type Outbox struct {
	db      kv.DB
	bucket  []byte
	deliver Deliver
	log     *slog.Logger
	// BatchSize bounds a delivery.
	BatchSize int

	send sync.Mutex // one delivery at a time
	wake chan struct{}
}

// New returns an outbox over bucket (which must exist in db).
func New(db kv.DB, bucket []byte, deliver Deliver, log *slog.Logger) *Outbox {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Outbox{db: db, bucket: bucket, deliver: deliver, log: log, BatchSize: 200, wake: make(chan struct{}, 1)}
}

// Notify tells the sender that messages were committed.
func (o *Outbox) Notify() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Run sends until ctx is done: at once when notified, and every second
// anyway; after a failure it waits with exponential backoff up to 30 s.
func (o *Outbox) Run(ctx context.Context) {
	defer metrics.AddGauge(metrics.Gauge{Desc: metrics.OutboxPending, Labels: []string{storeName(o.db), string(o.bucket)}, Read: o.pendingGauge})()
	backoff := time.Duration(0)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if backoff > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
		}
		if err := o.Flush(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, 100*time.Millisecond), 30*time.Second)
			o.log.Warn("outbox delivery failed; will retry", "bucket", string(o.bucket), "retry_in", backoff, "err", err)
			continue
		}
		backoff = 0
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-tick.C:
		}
	}
}

// Flush delivers every pending message now, batch after batch, and returns
// the first error.
func (o *Outbox) Flush(ctx context.Context) error {
	o.send.Lock()
	defer o.send.Unlock()
	for {
		batch, err := o.peek()
		if err != nil || len(batch) == 0 {
			return err
		}
		if err := o.deliver(ctx, batch); err != nil {
			return err
		}
		if err := o.remove(batch); err != nil {
			return err
		}
	}
}

// storeName is the name a store goes by in metrics.
func storeName(db kv.DB) string {
	if n, ok := db.(interface{ Name() string }); ok {
		return n.Name()
	}
	return db.Backend()
}

func (o *Outbox) pendingGauge() (float64, bool) {
	n, err := o.Pending()
	return float64(n), err == nil
}

// Pending counts the messages not yet acknowledged.
func (o *Outbox) Pending() (int, error) {
	n := 0
	err := o.db.View(func(tx kv.Tx) error {
		n = kv.Count(tx.Bucket(o.bucket))
		return nil
	})
	return n, err
}

func (o *Outbox) peek() ([]Message, error) {
	var batch []Message
	err := o.db.View(func(tx kv.Tx) error {
		c := tx.Bucket(o.bucket).Cursor()
		for k, v := c.First(); k != nil && len(batch) < o.BatchSize; k, v = c.Next() {
			batch = append(batch, Message{Key: append([]byte(nil), k...), Value: append([]byte(nil), v...)})
		}
		return nil
	})
	return batch, err
}

func (o *Outbox) remove(batch []Message) error {
	return o.db.Update(func(tx kv.Tx) error {
		b := tx.Bucket(o.bucket)
		for _, m := range batch {
			if err := b.Delete(m.Key); err != nil {
				return err
			}
		}
		return nil
	})
}
