package kv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/selfserve/selfserve/services/kit/metrics"
)

// Bolt is the bbolt backend of DB: one file, one process.
type Bolt struct {
	path     string
	name     string // the service's name: the file's, without .db
	unsample func()

	// swap guards raw: every transaction holds it shared, Compact holds it
	// alone only to put the compacted file in place.
	swap sync.RWMutex
	raw  *bolt.DB
	// writes is held shared by every write, alone by Compact while it
	// copies: writers wait for the copy, readers go on.
	writes sync.RWMutex
}

func openBoltFile(path string) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Request paths commit through Commit (a group commit without a timer);
	// should anything use Batch, its wait stays short (bbolt's default is 10 ms).
	db.MaxBatchDelay = time.Millisecond
	return db, nil
}

// OpenBolt opens (creating if needed) the bbolt file at path with mode 0600
// and a lock timeout, and creates every bucket of the list, plus Meta.
func OpenBolt(path string, buckets ...[]byte) (*Bolt, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	db, err := openBoltFile(path)
	if err != nil {
		return nil, err
	}
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
	b := &Bolt{raw: db, path: path, name: strings.TrimSuffix(filepath.Base(path), ".db")}
	unsize := metrics.AddGauge(metrics.Gauge{Desc: metrics.StoreSize, Labels: []string{b.name, "bbolt"}, Read: b.size})
	unuse := metrics.AddGauge(metrics.Gauge{Desc: metrics.StoreInUse, Labels: []string{b.name, "bbolt"}, Read: func() (float64, bool) {
		n, err := b.InUse()
		return float64(n), err == nil
	}})
	b.unsample = func() { unsize(); unuse() }
	return b, nil
}

// Raw runs fn with the bbolt file, for what only bbolt has (its size,
// Check); the file stays in place while fn runs.
func (b *Bolt) Raw(fn func(*bolt.DB) error) error {
	b.swap.RLock()
	defer b.swap.RUnlock()
	return fn(b.raw)
}

// size is the file's size as bbolt sees it (its high-water mark of pages).
func (b *Bolt) size() (float64, bool) {
	var n int64
	err := b.Raw(func(db *bolt.DB) error {
		return db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	})
	return float64(n), err == nil
}

// InUse is the bytes of the pages that hold data: the file's pages less the
// free and pending ones. The file itself grows ahead in chunks (doubling up
// to 1 GiB) and never shrinks until compacted, so its size says less.
func (b *Bolt) InUse() (int64, error) {
	var n int64
	err := b.Raw(func(db *bolt.DB) error {
		return db.View(func(tx *bolt.Tx) error {
			st := db.Stats()
			n = tx.Size() - int64(st.FreePageN+st.PendingPageN)*int64(db.Info().PageSize)
			return nil
		})
	})
	return n, err
}

// Name is the store's name in metrics: the service's.
func (b *Bolt) Name() string { return b.name }

// Open is OpenBolt.
func Open(path string, buckets ...[]byte) (*Bolt, error) { return OpenBolt(path, buckets...) }

// View implements DB.
func (b *Bolt) View(fn func(Tx) error) error {
	return b.Raw(func(db *bolt.DB) error {
		return db.View(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
	})
}

// Update implements DB: one bbolt write transaction, committed durably.
func (b *Bolt) Update(fn func(Tx) error) error {
	start := time.Now()
	err := b.update(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
	if err == nil {
		metrics.ObserveCommit(b.name, "bbolt", start, 1)
	}
	return err
}

// update is one bbolt write transaction, held back while Compact copies.
func (b *Bolt) update(fn func(*bolt.Tx) error) error {
	b.writes.RLock()
	defer b.writes.RUnlock()
	return b.Raw(func(db *bolt.DB) error { return db.Update(fn) })
}

// Close implements DB.
func (b *Bolt) Close() error {
	if b.unsample != nil {
		b.unsample()
	}
	b.swap.Lock()
	defer b.swap.Unlock()
	return b.raw.Close()
}

// Backend implements DB.
func (b *Bolt) Backend() string { return "bbolt" }

// Sync flushes the file (after writes made with NoSync, as bulk loads do).
func (b *Bolt) Sync() error { return b.Raw(func(db *bolt.DB) error { return db.Sync() }) }

// WriteBackup implements Backup: bbolt's own copy of one read transaction.
func (b *Bolt) WriteBackup(w BackupWriter) error {
	return b.View(func(tx Tx) error {
		t := BoltTx(tx)
		w.Size(t.Size())
		_, err := t.WriteTo(w)
		return err
	})
}

// Compaction is what Compact did.
type Compaction struct {
	Before, After int64         // the file's size
	Paused        time.Duration // how long writes waited
}

// compactTxSize bounds each transaction of the copy (bbolt's Compact).
const compactTxSize = 64 << 20

// Compact rewrites the file without its free pages, which bbolt never gives
// back to the file system: bbolt's Compact copies every bucket into a new
// file beside it (DIR/NAME.db.compact), which then replaces the file. Reads
// go on throughout; writes wait while the copy runs and are then made on
// the new file; only the swap itself (a close, a rename and an open) holds
// reads too. A failure before the swap leaves the file as it was.
func (b *Bolt) Compact() (Compaction, error) {
	start := time.Now()
	b.writes.Lock()
	defer b.writes.Unlock()
	var out Compaction
	tmp := b.path + ".compact"
	os.Remove(tmp)
	err := b.Raw(func(src *bolt.DB) error {
		if fi, err := os.Stat(b.path); err == nil {
			out.Before = fi.Size()
		}
		dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType})
		if err != nil {
			return err
		}
		// One fsync at the end instead of one a transaction of the copy:
		// until the rename, the copy is nobody's store.
		dst.NoSync = true
		if err := bolt.Compact(dst, src, compactTxSize); err != nil {
			dst.Close()
			return err
		}
		if err := dst.Sync(); err != nil {
			dst.Close()
			return err
		}
		return dst.Close()
	})
	if err != nil {
		os.Remove(tmp)
		return out, fmt.Errorf("compact %s: %w", b.path, err)
	}
	b.swap.Lock()
	defer b.swap.Unlock()
	if err := b.raw.Close(); err != nil {
		return out, err
	}
	// Once the rename is made, the new file is the store, whatever follows.
	renameErr := os.Rename(tmp, b.path)
	db, err := openBoltFile(b.path)
	if err != nil {
		return out, errors.Join(renameErr, err) // the store stays closed: its calls fail
	}
	b.raw = db
	if renameErr != nil {
		os.Remove(tmp)
		return out, fmt.Errorf("compact %s: %w", b.path, renameErr)
	}
	if fi, err := os.Stat(b.path); err == nil {
		out.After = fi.Size()
	}
	out.Paused = time.Since(start)
	return out, nil
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
