// Package contract holds the numbers of the product contract (docs/API.md
// §4) that more than one service uses, or a message and a check share: each
// is written once, here. Numbers only one domain package uses stay there
// (commerce's terms, billing's cards).
package contract

const (
	// MaxUsersPerCall is how many users one assign or unassign call names
	// at most ("Assign: 1 to 20 users a call").
	MaxUsersPerCall = 20
	// MinLicenses and MaxLicenses bound a subscription's quantity and its
	// pool's total ("totalLicenses from 1 to 10,000").
	MinLicenses = 1
	MaxLicenses = 10000
)
