package idem

import (
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// Update runs fn in one bbolt write transaction together with the request
// record: a faithful replay of key skips fn and fills resp with the stored
// response; otherwise fn makes the change and fills resp, which is stored with
// it. It reports whether the call was a replay.
func Update(db *bolt.DB, key Key, now time.Time, req, resp proto.Message, fn func(tx *bolt.Tx) error) (replayed bool, err error) {
	err = db.Update(func(tx *bolt.Tx) error {
		found, err := Lookup(tx, key, req, resp)
		if err != nil || found {
			replayed = found
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		return Save(tx, key, now, req, resp)
	})
	return replayed, err
}
