package server

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// randomID is 16 lowercase base32 characters: part of a resource id.
func randomID() string {
	b := make([]byte, 10)
	rand.Read(b)
	return strings.ToLower(b32.EncodeToString(b))
}
