// Package store keeps the commerce service's data in bbolt.
package store

import (
	bolt "go.etcd.io/bbolt"

	"github.com/selfserve/selfserve/services/kit/idem"
	"github.com/selfserve/selfserve/services/kit/kv"
)

// buckets, declared once; the service's own buckets come with its issue.
var buckets = [][]byte{idem.Bucket}

// Store is the commerce store.
type Store struct {
	DB *bolt.DB
}

// Open opens the store file, creating its buckets.
func Open(path string) (*Store, error) {
	db, err := kv.Open(path, buckets...)
	if err != nil {
		return nil, err
	}
	return &Store{DB: db}, nil
}

// Close closes the file.
func (s *Store) Close() error { return s.DB.Close() }
