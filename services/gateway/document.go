package gateway

import (
	"context"
	"mime"
	"net/http"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/proto"

	billingv1 "github.com/selfserve/selfserve/gen/go/selfserve/billing/v1"
)

// documentMarshaler is the JSON marshaler, except that an InvoiceDocument
// (GET …/invoices/{inv}:download) goes out as its raw bytes with its own
// content type, so a browser or curl gets the PDF itself.
type documentMarshaler struct {
	runtime.Marshaler
}

func (m documentMarshaler) ContentType(v any) string {
	if d, ok := v.(*billingv1.InvoiceDocument); ok {
		if ct := d.GetContentType(); ct != "" {
			return ct
		}
		return "application/octet-stream"
	}
	return m.Marshaler.ContentType(v)
}

func (m documentMarshaler) Marshal(v any) ([]byte, error) {
	if d, ok := v.(*billingv1.InvoiceDocument); ok {
		return d.GetData(), nil
	}
	return m.Marshaler.Marshal(v)
}

// contentDisposition names the file of a downloaded document: a marshaler
// cannot set headers, a forward-response option can.
func contentDisposition(_ context.Context, w http.ResponseWriter, resp proto.Message) error {
	d, ok := resp.(*billingv1.InvoiceDocument)
	if !ok {
		return nil
	}
	params := map[string]string{}
	if d.GetFileName() != "" {
		params["filename"] = d.GetFileName()
	}
	v := mime.FormatMediaType("attachment", params)
	if v == "" {
		// A name FormatMediaType cannot encode: still a download, unnamed.
		v = "attachment"
	}
	w.Header().Set("Content-Disposition", v)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	return nil
}
