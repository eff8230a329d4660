package kv

import (
	"errors"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/selfserve/selfserve/services/kit/metrics"
)

// Commit runs fn in a write transaction, sharing the commit (and its
// fsyncs) with whatever other calls are waiting: a group commit without a
// timer. A lone caller commits at once, as db.Update would; under load the
// calls that arrive during one commit go together in the next. fn may run
// more than once, always in a fresh transaction: when one fn of a group
// fails, the group is rolled back and every fn is run again on its own, so
// each gets its own answer.
//
// On etcd, where every replica commits through the cluster, Commit is
// db.Update.
func Commit(db DB, fn func(Tx) error) error {
	b, ok := db.(*Bolt)
	if !ok {
		return db.Update(fn)
	}
	g, _ := groups.LoadOrStore(b, &group{db: b, name: b.name})
	return g.(*group).run(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

var groups sync.Map // *Bolt → *group

type call struct {
	fn   func(*bolt.Tx) error
	done chan error
}

type group struct {
	db      *Bolt
	name    string // of the store, in metrics
	mu      sync.Mutex
	pending []call
	running bool
}

// maxGroup bounds how many calls share one commit.
const maxGroup = 256

func (g *group) run(fn func(*bolt.Tx) error) error {
	c := call{fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	if !g.running {
		g.running = true
		go g.loop()
	}
	g.mu.Unlock()
	return <-c.done
}

// errRetrySolo rolls a group back when one of its calls failed.
var errRetrySolo = errors.New("kv: a call of the group failed")

func (g *group) loop() {
	for {
		g.mu.Lock()
		n := min(len(g.pending), maxGroup)
		batch := g.pending[:n:n]
		g.pending = g.pending[n:]
		if n == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		failed := -1
		start := time.Now()
		err := g.db.update(func(tx *bolt.Tx) error {
			for i, c := range batch {
				if err := c.fn(tx); err != nil {
					failed = i
					return errRetrySolo
				}
			}
			return nil
		})
		switch {
		case err == nil:
			metrics.ObserveCommit(g.name, "bbolt", start, len(batch))
			for _, c := range batch {
				c.done <- nil
			}
		case failed >= 0:
			// Run each alone: the failing one reports its error, the others
			// commit (or fail) on their own.
			for _, c := range batch {
				start := time.Now()
				err := g.db.update(c.fn)
				if err == nil {
					metrics.ObserveCommit(g.name, "bbolt", start, 1)
				}
				c.done <- err
			}
		default:
			for _, c := range batch {
				c.done <- err
			}
		}
	}
}
