// Package store keeps the licensing service's data in bbolt: the directory
// (organizations, users and their search index) and the request records.
package store

import (
	"errors"

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

	// pools: {org}\0{subscription} → Pool
	Pools = []byte("pools")
	// pool_owners: {org}\0{purchaser}\0{subscription} → nothing; a purchaser's pools
	PoolOwners = []byte("pool_owners")
	// assignments: {org}\0{subscription}\0{user} → Assignment
	Assignments = []byte("assignments")
	// user_assignments: {org}\0{user}\0{subscription} → nothing; a user's licenses
	UserAssignments = []byte("user_assignments")
	// license_requests: {org}\0{request} → LicenseRequest; ids sort by creation
	LicenseRequests = []byte("license_requests")
	// license_request_owners: {org}\0{requester}\0{request} → nothing
	RequestOwners = []byte("license_request_owners")
	// license_requests_by_time: {create time, 8 bytes}{org}\0{request} → nothing; for the purge
	RequestsByTime = []byte("license_requests_by_time")
	// events: the outbox of audit events for commerce
	Events = []byte("events_outbox")

	buckets = [][]byte{Organizations, Users, UserEmails, UserTerms, Pools, PoolOwners, Assignments, UserAssignments, LicenseRequests, RequestOwners, RequestsByTime, Events, idem.Bucket}
)

// Store is the licensing store.
type Store struct {
	DB kv.DB
}

// Open opens the store file, creating its buckets.
func Open(path string) (*Store, error) {
	db, err := kv.Open(path, buckets...)
	if err != nil {
		return nil, err
	}
	return &Store{DB: db}, nil
}

// OpenWith opens the store through open: a bbolt file or an etcd prefix.
func OpenWith(open kv.Opener) (*Store, error) {
	db, err := open("licensing", buckets...)
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
