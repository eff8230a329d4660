package kv

import (
	"github.com/selfserve/selfserve/services/kit/errs"
)

// DB is one service's store: named buckets of ordered keys, read and written
// in serializable transactions. Two backends implement it: a bbolt file
// (OpenBolt, one process) and a key prefix of an etcd cluster (OpenEtcd,
// any number of replicas at once). Services see only this interface.
type DB interface {
	// View runs fn in a read-only transaction: a consistent snapshot.
	View(fn func(Tx) error) error
	// Update runs fn in a read-write transaction and commits what it wrote
	// when fn returns nil; nothing of it when fn fails. fn may run more than
	// once (etcd retries on a conflict with another writer), always in a
	// fresh transaction, so it must leave nothing behind but what it wrote.
	Update(fn func(Tx) error) error
	// Close releases the store.
	Close() error
	// Backend names the backend: "bbolt" or "etcd".
	Backend() string
}

// Tx is a transaction of a DB.
type Tx interface {
	// Bucket returns the named bucket; nil only on bbolt, for a bucket the
	// store was not opened with.
	Bucket(name []byte) Bucket
	// Writable reports whether the transaction may write.
	Writable() bool
}

// Bucket is an ordered map of byte keys to byte values inside a transaction.
// Values returned are valid only until the transaction ends.
type Bucket interface {
	Get(key []byte) []byte
	Put(key, value []byte) error
	Delete(key []byte) error
	// Cursor walks the bucket in key order; it sees the transaction's own
	// writes.
	Cursor() Cursor
	// NextSequence returns a new number, greater than every number this
	// process had from the bucket before. On bbolt the numbers are 1, 2,
	// 3...; on etcd each replica takes blocks of numbers, so numbers are
	// unique but only ordered within one replica.
	NextSequence() (uint64, error)
	// ForEach calls fn for every key in order.
	ForEach(fn func(k, v []byte) error) error
}

// Cursor walks a bucket; each method returns nil keys past either end.
type Cursor interface {
	First() (key, value []byte)
	Last() (key, value []byte)
	Next() (key, value []byte)
	Prev() (key, value []byte)
	// Seek moves to the first key at or after seek.
	Seek(seek []byte) (key, value []byte)
}

// ErrUnavailable matches (errors.Is) the errors of a store that cannot be
// reached, an etcd cluster without quorum say: the transaction changed
// nothing. They leave a service as UNAVAILABLE / SERVICE_UNAVAILABLE.
var ErrUnavailable = errs.New(errs.Unavailable, "the store is unavailable")

// unavailable makes an ErrUnavailable that tells what failed.
func unavailable(err error) error {
	return errs.New(errs.Unavailable, "the store is unavailable: %v", err)
}

// Backup is implemented by stores that can write a consistent copy of
// themselves as a bbolt file.
type Backup interface {
	// WriteBackup writes the whole store, as of one transaction, as a
	// bbolt file to w; size is called first with the copy's size when it is
	// known ahead (0 otherwise).
	WriteBackup(w BackupWriter) error
}

// BackupWriter receives a backup.
type BackupWriter interface {
	Write(p []byte) (int, error)
	// Size is told the copy's total size before the first Write.
	Size(n int64)
}

// Opener opens the store of a service (its name, "licensing", and its
// buckets): a bbolt file in a directory (Bolts) or a prefix of an etcd
// cluster (Etcds).
type Opener func(service string, buckets ...[]byte) (DB, error)
