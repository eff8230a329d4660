// Package store keeps the licensing service's data in bbolt: the directory
// (organizations, users and their search index) and the request records.
package store

import (
	"errors"

	"log/slog"

	"github.com/selfserve/selfserve/services/kit/idem"
	"github.com/selfserve/selfserve/services/kit/kv"
	"github.com/selfserve/selfserve/services/kit/outbox"
)

// Buckets, declared once.
var (
	// organizations: {org} → Organization
	organizationsBucket = []byte("organizations")
	// users: {org}\0{user} → User
	usersBucket = []byte("users")
	// user_emails: {org}\0{email} → user id; e-mails are unique in an organization
	userEmails = []byte("user_emails")
	// user_terms: {org}\0{term}\0{user} → nothing; the type-ahead index
	userTerms = []byte("user_terms")

	// pools: {org}\0{subscription} → Pool
	poolsBucket = []byte("pools")
	// pool_owners: {org}\0{purchaser}\0{subscription} → nothing; a purchaser's pools
	poolOwners = []byte("pool_owners")
	// assignments: {org}\0{subscription}\0{user} → Assignment
	assignmentsBucket = []byte("assignments")
	// user_assignments: {org}\0{user}\0{subscription} → nothing; a user's licenses
	userAssignments = []byte("user_assignments")
	// license_requests: {org}\0{request} → LicenseRequest; ids sort by creation
	licenseRequests = []byte("license_requests")
	// license_request_owners: {org}\0{requester}\0{request} → nothing
	requestOwners = []byte("license_request_owners")
	// license_requests_by_time: {create time, 8 bytes}{org}\0{request} → nothing; for the purge
	requestsByTime = []byte("license_requests_by_time")
	// events: the outbox of audit events for commerce
	eventsBucket = []byte("events_outbox")

	buckets = [][]byte{organizationsBucket, usersBucket, userEmails, userTerms, poolsBucket, poolOwners, assignmentsBucket, userAssignments, licenseRequests, requestOwners, requestsByTime, eventsBucket, idem.Bucket}
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

// NewEventOutbox is the outbox of the audit events licensing sends to
// commerce; AddEvent fills it.
func NewEventOutbox(db kv.DB, deliver outbox.Deliver, log *slog.Logger) *outbox.Outbox {
	return outbox.New(db, eventsBucket, deliver, log)
}

// PrefetchPools reads the pools of (org, subscription) pairs ahead in one
// round trip where the store can (etcd), so that GetPool answers them from
// memory; elsewhere it does nothing.
func PrefetchPools(tx kv.Tx, pools [][2]string) {
	if !kv.Prefetches(tx) {
		return
	}
	refs := make([]kv.Ref, len(pools))
	for n, p := range pools {
		refs[n] = kv.Ref{Bucket: poolsBucket, Key: kv.Key(p[0], p[1])}
	}
	kv.Prefetch(tx, refs...)
}
