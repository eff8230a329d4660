// Package errs is the error model of API.md §5: every error leaves a service as
// a google.rpc.Status with a canonical code, an ErrorInfo (reason, domain,
// metadata) and a LocalizedMessage in the caller's language.
//
// Domain code returns *Error values made from the reasons declared in
// reasons.go; the server interceptor turns them into statuses. Errors that
// already are statuses (from a callee) keep their code and details.
package errs

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"golang.org/x/text/language"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/selfserve/selfserve/services/kit/locale"
)

// Reason is a machine-readable cause a client can rely on, with its code.
type Reason struct {
	Name string
	Code codes.Code
}

// Error is a domain error.
type Error struct {
	Reason   Reason
	Message  string // for developers, in English
	Metadata map[string]string

	// A counted error (Counted) says its sentence to the caller.
	sentence Sentence
	counts   []int
}

func (e *Error) Error() string { return e.Reason.Name + ": " + e.Message }

// Is matches errors of the same reason, so errors.Is(err, errs.New(R, "")) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

// New makes an error of a reason.
func New(r Reason, format string, args ...any) *Error {
	return &Error{Reason: r, Message: fmt.Sprintf(format, args...)}
}

// With returns a copy of e with a metadata entry added.
func (e *Error) With(key, value string) *Error {
	c := *e
	c.Metadata = maps.Clone(e.Metadata)
	if c.Metadata == nil {
		c.Metadata = map[string]string{}
	}
	c.Metadata[key] = value
	return &c
}

// Field is an INVALID_ARGUMENT about one request field.
func Field(field, format string, args ...any) *Error {
	return New(InvalidField, format, args...).With("field", field)
}

// NotFound says a resource does not exist, or is not the caller's to see.
func NotFound(name string) *Error {
	return New(ResourceNotFound, "%s not found", name).With("resource", name)
}

// Denied says the caller may not do this.
func Denied(format string, args ...any) *Error {
	return New(PermissionDenied, format, args...)
}

// ReasonOf returns the ErrorInfo reason of any error: a domain error's, or a
// status's details. Empty when there is none.
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason.Name
	}
	if s, ok := status.FromError(err); ok {
		for _, d := range s.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				return info.GetReason()
			}
		}
	}
	return ""
}

// MetadataOf returns one ErrorInfo metadata value of any error (a domain
// error's, or a status's details): the decline code of a PAYMENT_DECLINED,
// say. Empty when there is none.
func MetadataOf(err error, key string) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Metadata[key]
	}
	if s, ok := status.FromError(err); ok {
		for _, d := range s.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok {
				return info.GetMetadata()[key]
			}
		}
	}
	return ""
}

// Status turns any error into a status of the given domain with ErrorInfo and
// LocalizedMessage in lang. A status from a callee keeps its code, message and
// details; one without ErrorInfo gets it.
func Status(err error, domain string, lang language.Tag) *status.Status {
	var e *Error
	switch {
	case err == nil:
		return status.New(codes.OK, "")
	case errors.As(err, &e):
		return build(e, domain, lang)
	case errors.Is(err, context.Canceled):
		return build(New(Canceled, "the request was cancelled"), domain, lang)
	case errors.Is(err, context.DeadlineExceeded):
		return build(New(DeadlineExceeded, "the deadline passed"), domain, lang)
	}
	if s, ok := status.FromError(err); ok {
		if ReasonOf(err) != "" {
			return s
		}
		return build(&Error{Reason: reasonForCode(s.Code()), Message: s.Message()}, domain, lang)
	}
	// Unknown errors are internal: their text may hold details not meant for clients.
	return build(New(Internal, "internal error"), domain, lang)
}

func build(e *Error, domain string, lang language.Tag) *status.Status {
	s := status.New(e.Reason.Code, e.Message)
	info := &errdetails.ErrorInfo{Reason: e.Reason.Name, Domain: domain, Metadata: e.Metadata}
	text := Localize(e.Reason, lang)
	if e.sentence != (Sentence{}) {
		text = e.sentence.Format(lang, e.counts...)
	}
	msg := &errdetails.LocalizedMessage{Locale: locale.Code(lang), Message: text}
	if d, err := s.WithDetails(info, msg); err == nil {
		return d
	}
	return s
}

// GRPC converts err into a gRPC error (see Status).
func GRPC(err error, domain string, lang language.Tag) error {
	if err == nil {
		return nil
	}
	return Status(err, domain, lang).Err()
}
