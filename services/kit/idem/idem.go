// Package idem implements AIP-155 request ids: a mutating request's id is
// stored with its response in the same bbolt transaction as the change it
// made, so a replay returns the first response and does the work once, and a
// replay with a different request is REQUEST_ID_REUSED.
package idem

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/kv"
)

// Bucket holds the stored requests; add it to the store's bucket list.
var Bucket = []byte("requests")

// Header is the metadata key the gateway forwards Idempotency-Key under.
const Header = "idempotency-key"

// MaxLen is the longest request id accepted.
const MaxLen = 128

// RequestID returns the request id of a call: the body's request_id, else the
// Idempotency-Key header; empty when neither is given.
func RequestID(ctx context.Context, fromBody string) (string, error) {
	id := fromBody
	if id == "" {
		if v := metadata.ValueFromIncomingContext(ctx, Header); len(v) > 0 {
			id = v[0]
		}
	}
	if id == "" {
		return "", nil
	}
	if len(id) > MaxLen {
		return "", errs.New(errs.InvalidRequestID, "request_id is longer than %d characters", MaxLen).With("field", "request_id")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return "", errs.New(errs.InvalidRequestID, "request_id may hold only letters, digits and - _ . :").With("field", "request_id")
		}
	}
	return id, nil
}

// Key scopes a request id to a method and a caller, so that two callers never
// share a response.
type Key []byte

// NewKey returns the key of requestID for method and principal; nil when
// requestID is empty (the request is not idempotent).
func NewKey(method, principal, requestID string) Key {
	if requestID == "" {
		return nil
	}
	return kv.Key(method, principal, requestID)
}

// Fingerprint hashes a request without its request_id field.
func Fingerprint(req proto.Message) []byte {
	h := sha256.Sum256(canonical(req))
	return h[:]
}

// canonical is the deterministic encoding of a request without request_id.
func canonical(req proto.Message) []byte {
	c := proto.Clone(req)
	m := c.ProtoReflect()
	if f := m.Descriptor().Fields().ByName(protoreflect.Name("request_id")); f != nil {
		m.Clear(f)
	}
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	return b
}

// Lookup finds a stored response for key inside tx. It reports false when the
// request is new (or key is nil), unmarshals the stored response into resp and
// reports true on a faithful replay, and fails with REQUEST_ID_REUSED when the
// id came with a different request.
func Lookup(tx kv.Tx, key Key, req, resp proto.Message) (bool, error) {
	return LookupFingerprint(tx, key, Fingerprint(req), resp)
}

// LookupFingerprint is Lookup for a request known by its fingerprint (see
// UpdateFingerprint).
func LookupFingerprint(tx kv.Tx, key Key, fingerprint []byte, resp proto.Message) (bool, error) {
	if key == nil {
		return false, nil
	}
	v := tx.Bucket(Bucket).Get(key)
	if v == nil {
		return false, nil
	}
	if len(v) < 8+sha256.Size {
		return false, errs.New(errs.Internal, "corrupt request record")
	}
	if !bytes.Equal(v[8:8+sha256.Size], fingerprint) {
		return false, errs.New(errs.RequestIDReused, "request_id was used for a different request").With("field", "request_id")
	}
	if err := proto.Unmarshal(v[8+sha256.Size:], resp); err != nil {
		return false, err
	}
	return true, nil
}

// Save stores resp for key inside tx, the transaction of the change.
func Save(tx kv.Tx, key Key, now time.Time, req, resp proto.Message) error {
	return SaveFingerprint(tx, key, now, Fingerprint(req), resp)
}

// SaveFingerprint is Save for a request known by its fingerprint.
func SaveFingerprint(tx kv.Tx, key Key, now time.Time, fingerprint []byte, resp proto.Message) error {
	if key == nil {
		return nil
	}
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(resp)
	if err != nil {
		return err
	}
	v := make([]byte, 8, 8+sha256.Size+len(body))
	binary.BigEndian.PutUint64(v, uint64(now.UnixNano()))
	v = append(v, fingerprint...)
	v = append(v, body...)
	return tx.Bucket(Bucket).Put(key, v)
}
