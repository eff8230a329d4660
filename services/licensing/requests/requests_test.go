package requests

import (
	"testing"
	"time"

	licensingv1 "github.com/selfserve/selfserve/gen/go/selfserve/licensing/v1"
	"github.com/selfserve/selfserve/services/kit/errs"
	"github.com/selfserve/selfserve/services/kit/names"
)

func TestIDsSortByCreation(t *testing.T) {
	if !(ID(9) < ID(10) && ID(255) < ID(256)) || !names.ValidID(ID(1)) {
		t.Fatalf("ids %s %s", ID(9), ID(10))
	}
}

func TestCutoff(t *testing.T) {
	now := time.Date(2027, 3, 31, 12, 0, 0, 0, time.UTC)
	if c := Cutoff(now); !c.Equal(time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("retention of 12 months: %v", c)
	}
}

func TestNew(t *testing.T) {
	r, ids, err := New("acme", "organizations/acme/users/bo", &licensingv1.LicenseRequest{Product: "products/office", Message: "  please  "})
	if err != nil || len(ids) != 1 || ids[0] != "bo" || r.Message != "please" || r.State != licensingv1.LicenseRequest_PENDING {
		t.Fatalf("%v %v %v", r, ids, err)
	}
	if _, _, err := New("acme", "organizations/acme/users/bo", &licensingv1.LicenseRequest{Product: "office"}); errs.ReasonOf(err) != "INVALID_RESOURCE_NAME" {
		t.Fatalf("bad product: %v", err)
	}
	if err := Pending(&licensingv1.LicenseRequest{State: licensingv1.LicenseRequest_DENIED}); errs.ReasonOf(err) != "LICENSE_REQUEST_DECIDED" {
		t.Fatal("decided twice")
	}
}
