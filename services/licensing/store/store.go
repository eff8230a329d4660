// Package store keeps the licensing service's data in bbolt: the directory
// (organizations, users and their search index) and the request records.
package store

import (
	"errors"

	bolt "go.etcd.io/bbolt"

	"github.com/selfserve/selfserve/services/kit/idem"
	"github.com/selfserve/selfserve/services/kit/kv"
)

// Buckets, declared once.
var (
	// organizations: {org} → Organization
	Organizations = []byte("organizations")
	// users: {org}\0{user} → User
	Users = []byte("users")
	// user_emails: {org}\0{email} → user id; e-mails are unique in an organization
	UserEmails = []byte("user_emails")
	// user_terms: {org}\0{term}\0{user} → nothing; the type-ahead index
	UserTerms = []byte("user_terms")

	buckets = [][]byte{Organizations, Users, UserEmails, UserTerms, idem.Bucket}
)

// Store is the licensing store.
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
func (s *Store) Close() error {
	if s == nil || s.DB == nil {
		return errors.New("store not open")
	}
	return s.DB.Close()
}
