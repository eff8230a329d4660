package contract_test

import (
	"testing"

	"github.com/selfserve/selfserve/services/kit/contract"
)

// The contract's own figures, written as docs/API.md §4 writes them.
func TestTheContractsNumbers(t *testing.T) {
	if contract.MaxUsersPerCall != 20 {
		t.Errorf("assign takes 1 to 20 users a call, not %d", contract.MaxUsersPerCall)
	}
	if contract.MinLicenses != 1 || contract.MaxLicenses != 10_000 {
		t.Errorf("totalLicenses is from 1 to 10,000, not %d to %d", contract.MinLicenses, contract.MaxLicenses)
	}
}
