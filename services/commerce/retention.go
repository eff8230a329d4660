package commerce

import (
	"context"
	"time"

	"github.com/selfserve/selfserve/services/commerce/store"
	"github.com/selfserve/selfserve/services/kit/kv"
)

// Audit retention: events older than the retention are removed in batches,
// each its own short write transaction, so that a store holding years of
// them is cut back without one long transaction holding the writer.
const (
	purgeBatch  = 1000 // events a transaction
	purgeRounds = 100  // transactions a run, at most
)

// runRetention purges every interval until ctx ends.
func (c *Component) runRetention(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := c.PurgeEvents(ctx); err != nil {
			c.log.Warn("audit retention", "err", err)
		} else if n > 0 {
			c.log.Info("audit retention: removed old events", "events", n, "months", c.retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PurgeEvents removes the audit events older than the retention, by the
// service's clock, up to purgeBatch × purgeRounds of them, and answers how
// many it removed. With no retention it removes nothing.
func (c *Component) PurgeEvents(ctx context.Context) (int, error) {
	if c.retention == 0 {
		return 0, nil
	}
	cutoff := c.Service.Clock.Now().AddDate(0, -c.retention, 0)
	total := 0
	for range purgeRounds {
		n := 0
		if err := c.Store.DB.Update(func(tx kv.Tx) (err error) {
			n, err = store.PurgeEvents(tx, cutoff, purgeBatch)
			return err
		}); err != nil {
			return total, err
		}
		total += n
		if n < purgeBatch || ctx.Err() != nil {
			break
		}
	}
	return total, nil
}
