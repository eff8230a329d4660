// Package page implements AIP-158 pagination: page sizes and opaque page
// tokens that are cursors into bbolt keys, bound to the request that made them.
package page

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"io"

	"github.com/selfserve/selfserve/services/kit/errs"
)

// Page size limits of API.md §6.
const (
	DefaultSize = 50
	MaxSize     = 1000
)

// Size checks a requested page size and applies the default.
func Size(requested int32) (int, error) {
	switch {
	case requested < 0:
		return 0, errs.Field("page_size", "page_size must not be negative")
	case requested == 0:
		return DefaultSize, nil
	case requested > MaxSize:
		return MaxSize, nil
	}
	return int(requested), nil
}

const version = 1

// Binding identifies a list request apart from its page fields: the method,
// the parent and every filter. A token made for one binding is refused for
// another. Each part is hashed behind its length, so that no two lists of
// parts hash the same bytes (joining them with a separator would let
// ("a\x00", "") pass for ("a", "\x00")).
func Binding(parts ...string) []byte {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, p := range parts {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(p)))])
		io.WriteString(h, p)
	}
	return h.Sum(nil)[:8]
}

// Token makes the page token that resumes after cursor (the last key served).
func Token(binding, cursor []byte) string {
	b := make([]byte, 0, 1+len(binding)+len(cursor))
	b = append(b, version)
	b = append(b, binding...)
	b = append(b, cursor...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Cursor reads a page token: nil for an empty token (the first page), else the
// cursor it holds. A token that is malformed or was made for another request
// is INVALID_ARGUMENT.
func Cursor(token string, binding []byte) ([]byte, error) {
	if token == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) < 1+len(binding)+1 || b[0] != version || !bytes.Equal(b[1:1+len(binding)], binding) {
		return nil, errs.New(errs.InvalidPageToken, "page_token is not valid for this request").With("field", "page_token")
	}
	return b[1+len(binding):], nil
}

// Page is a checked list request: its size, and the cursor it resumes after.
type Page struct {
	Size    int
	After   []byte
	binding []byte
}

// Open checks a list request's page size and token; parts bind the token to
// the request (see Binding).
func Open(pageSize int32, token string, parts ...string) (*Page, error) {
	size, err := Size(pageSize)
	if err != nil {
		return nil, err
	}
	b := Binding(parts...)
	after, err := Cursor(token, b)
	if err != nil {
		return nil, err
	}
	return &Page{Size: size, After: after, binding: b}, nil
}

// Next is the token of the page after one that ended at cursor; empty when
// cursor is nil (the last page).
func (p *Page) Next(cursor []byte) string {
	if cursor == nil {
		return ""
	}
	return Token(p.binding, cursor)
}
