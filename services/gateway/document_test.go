package gateway

import (
	"bytes"
	"mime"
	"net/http"
	"testing"
)

func TestInvoiceDownloadIsRawPDF(t *testing.T) {
	h := newHarness(t)
	tok := "Bearer " + h.token("alice")
	r := h.do("GET", "/v1/organizations/contoso/billingAccounts/ba1/invoices/inv1:download", "", "Authorization", tok)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if !bytes.Equal(r.body, pdf) {
		t.Fatalf("body %q, want the raw document", r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/pdf" {
		t.Fatalf("content type %q", ct)
	}
	disp, params, err := mime.ParseMediaType(r.header.Get("Content-Disposition"))
	if err != nil || disp != "attachment" || params["filename"] != "INV-0001.pdf" {
		t.Fatalf("content disposition %q", r.header.Get("Content-Disposition"))
	}

	// Errors of the same route stay JSON.
	r = h.do("GET", "/v1/organizations/contoso/billingAccounts/ba1/invoices/nope:download", "", "Authorization", tok)
	wantError(t, r, http.StatusNotFound, "RESOURCE_NOT_FOUND", "billing.selfserve")
	if r.header.Get("Content-Disposition") != "" {
		t.Fatal("an error offered as a download")
	}
}
