// Package kv is the store every service keeps its data in (DB, with a bbolt
// and an etcd backend) and the helpers they share: composite keys, proto values, prefix scans from a
// cursor, and the stored position of a manual clock.
package kv

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
)

// Meta is the bucket of every store for small service-wide values (clock
// position, schema version).
var Meta = []byte("meta")

var clockKey = []byte("clock")

// Key joins parts with a 0 byte, which no id or name contains, so that a key
// sorts by its parts and a prefix of parts is a prefix of keys.
func Key(parts ...string) []byte {
	n := len(parts)
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, p...)
	}
	return k
}

// Prefix is Key(parts...) followed by the separator: every key under parts.
func Prefix(parts ...string) []byte { return append(Key(parts...), 0) }

// Split undoes Key.
func Split(k []byte) []string {
	var out []string
	for _, p := range bytes.Split(k, []byte{0}) {
		out = append(out, string(p))
	}
	return out
}

// Uint64 is a big-endian key of a sequence number: keys sort by number.
func Uint64(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// Get reads a proto value; false when the key is absent. The value is copied
// out of the transaction by unmarshaling.
func Get(b Bucket, key []byte, m proto.Message) (bool, error) {
	v := b.Get(key)
	if v == nil {
		return false, nil
	}
	if err := proto.Unmarshal(v, m); err != nil {
		return false, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

// Put writes a proto value.
func Put(b Bucket, key []byte, m proto.Message) error {
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return err
	}
	return b.Put(key, v)
}

// Scan calls fn for each key under prefix, in key order, starting after the
// key after (or at the start of prefix when after is nil), until fn returns
// false. It seeks: the cost is that of the keys visited, never an offset scan.
func Scan(b Bucket, prefix, after []byte, fn func(k, v []byte) (bool, error)) error {
	c := b.Cursor()
	var k, v []byte
	if after != nil {
		k, v = c.Seek(after)
		if k != nil && bytes.Equal(k, after) {
			k, v = c.Next()
		}
	} else {
		k, v = c.Seek(prefix)
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		more, err := fn(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// ScanReverse is Scan from the last key under prefix backwards, starting
// before the key before (when not nil): newest first for sequence keys.
func ScanReverse(b Bucket, prefix, before []byte, fn func(k, v []byte) (bool, error)) error {
	c := b.Cursor()
	var k, v []byte
	if before != nil {
		k, v = c.Seek(before)
		if k == nil {
			k, v = c.Last()
		}
		for k != nil && bytes.Compare(k, before) >= 0 {
			k, v = c.Prev()
		}
	} else {
		// The first key past every key under prefix, then one step back.
		k, _ = c.Seek(upperBound(prefix))
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
		more, err := fn(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// upperBound is the smallest key greater than every key with the prefix.
func upperBound(prefix []byte) []byte {
	ub := bytes.Clone(prefix)
	for i := len(ub) - 1; i >= 0; i-- {
		if ub[i] < 0xff {
			ub[i]++
			return ub[:i+1]
		}
	}
	return nil // all 0xff: no upper bound; Seek(nil) is the first key
}

// LoadClock returns the stored position of a manual clock (zero if none).
func LoadClock(db DB) (time.Time, error) {
	var t time.Time
	err := db.View(func(tx Tx) error {
		v := tx.Bucket(Meta).Get(clockKey)
		if v == nil {
			return nil
		}
		return t.UnmarshalBinary(v)
	})
	return t.UTC(), err
}

// SaveClock stores the position of a manual clock, durably.
func SaveClock(db DB, t time.Time) error {
	v, err := t.UTC().MarshalBinary()
	if err != nil {
		return err
	}
	return db.Update(func(tx Tx) error { return tx.Bucket(Meta).Put(clockKey, v) })
}

// Page reads one page of a list: up to size items under prefix after the
// cursor (before it when reverse), each read by get, which may leave an item
// out (keep false). next is the cursor of the following page: the key of the
// last item served, and only when another item would follow.
func Page[T any](b Bucket, prefix, cursor []byte, size int, reverse bool, get func(k, v []byte) (item T, keep bool, err error)) (items []T, next []byte, err error) {
	var last []byte
	fn := func(k, v []byte) (bool, error) {
		item, keep, err := get(k, v)
		if err != nil || !keep {
			return err == nil, err
		}
		if len(items) == size {
			next = last
			return false, nil
		}
		items = append(items, item)
		last = bytes.Clone(k)
		return true, nil
	}
	if reverse {
		err = ScanReverse(b, prefix, cursor, fn)
	} else {
		err = Scan(b, prefix, cursor, fn)
	}
	return items, next, err
}
