package kv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/selfserve/selfserve/services/kit/metrics"
)

// Bolt is the bbolt backend of DB: one file, one process.
type Bolt struct {
	// Raw is the bbolt file, for what only bbolt has (its size, Check).
	Raw *bolt.DB

	name     string // the service's name: the file's, without .db
	unsample func()
}

// OpenBolt opens (creating if needed) the bbolt file at path with mode 0600
// and a lock timeout, and creates every bucket of the list, plus Meta.
func OpenBolt(path string, buckets ...[]byte) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Request paths commit through Commit (a group commit without a timer);
	// should anything use Batch, its wait stays short (bbolt's default is 10 ms).
	db.MaxBatchDelay = time.Millisecond
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range append([][]byte{Meta}, buckets...) {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("bucket %s: %w", b, err)
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	b := &Bolt{Raw: db, name: strings.TrimSuffix(filepath.Base(path), ".db")}
	b.unsample = metrics.AddGauge(metrics.Gauge{Desc: metrics.StoreSize, Labels: []string{b.name, "bbolt"}, Read: b.size})
	return b, nil
}

// size is the file's size as bbolt sees it (its high-water mark of pages).
func (b *Bolt) size() (float64, bool) {
	var n int64
	if err := b.Raw.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil }); err != nil {
		return 0, false
	}
	return float64(n), true
}

// Name is the store's name in metrics: the service's.
func (b *Bolt) Name() string { return b.name }

// Open is OpenBolt.
func Open(path string, buckets ...[]byte) (*Bolt, error) { return OpenBolt(path, buckets...) }

// View implements DB.
func (b *Bolt) View(fn func(Tx) error) error {
	return b.Raw.View(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

// Update implements DB: one bbolt write transaction, committed durably.
func (b *Bolt) Update(fn func(Tx) error) error {
	start := time.Now()
	err := b.Raw.Update(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
	if err == nil {
		metrics.ObserveCommit(b.name, "bbolt", start, 1)
	}
	return err
}

// Close implements DB.
func (b *Bolt) Close() error {
	if b.unsample != nil {
		b.unsample()
	}
	return b.Raw.Close()
}

// Backend implements DB.
func (b *Bolt) Backend() string { return "bbolt" }

// Sync flushes the file (after writes made with NoSync, as bulk loads do).
func (b *Bolt) Sync() error { return b.Raw.Sync() }

// WriteBackup implements Backup: bbolt's own copy of one read transaction.
func (b *Bolt) WriteBackup(w BackupWriter) error {
	return b.Raw.View(func(tx *bolt.Tx) error {
		w.Size(tx.Size())
		_, err := tx.WriteTo(w)
		return err
	})
}

type boltTx struct{ tx *bolt.Tx }

// FillPercent is how full bbolt packs the pages a write transaction splits.
// bbolt's default, 0.5, leaves every page a commit touches half empty, which
// doubles a store grown by small records (an assignment is about 125 bytes
// of keys and value); the stores' keys mostly grow at the end of a range
// (ids and times in order), where full pages cost nothing later.
const FillPercent = 0.9

func (t boltTx) Bucket(name []byte) Bucket {
	b := t.tx.Bucket(name)
	if b == nil {
		return nil
	}
	b.FillPercent = FillPercent
	return boltBucket{b}
}

func (t boltTx) Writable() bool { return t.tx.Writable() }

// BoltTx returns the bbolt transaction under tx, or nil when tx is not one.
func BoltTx(tx Tx) *bolt.Tx {
	if t, ok := tx.(boltTx); ok {
		return t.tx
	}
	return nil
}

type boltBucket struct{ b *bolt.Bucket }

func (b boltBucket) Get(key []byte) []byte                    { return b.b.Get(key) }
func (b boltBucket) Put(key, value []byte) error              { return b.b.Put(key, value) }
func (b boltBucket) Delete(key []byte) error                  { return b.b.Delete(key) }
func (b boltBucket) Cursor() Cursor                           { return b.b.Cursor() }
func (b boltBucket) NextSequence() (uint64, error)            { return b.b.NextSequence() }
func (b boltBucket) ForEach(fn func(k, v []byte) error) error { return b.b.ForEach(fn) }

// Count is the number of keys in a bucket.
func Count(b Bucket) int {
	switch b := b.(type) {
	case boltBucket:
		return b.b.Stats().KeyN
	case *etcdBucket:
		return b.count()
	}
	n := 0
	b.ForEach(func(_, _ []byte) error { n++; return nil })
	return n
}

// Bolts opens each service's store as the file DIR/SERVICE.db.
func Bolts(dir string) Opener {
	return func(service string, buckets ...[]byte) (DB, error) {
		return OpenBolt(filepath.Join(dir, service+".db"), buckets...)
	}
}
