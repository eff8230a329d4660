package invoicepdf

import (
	"time"

	"golang.org/x/text/language"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/selfserve/selfserve/services/kit/locale"
)

// formatDate writes a day the way the language writes it on a business
// document. Times are instants on the business clock, printed in UTC so that
// an invoice reads the same wherever it is rendered. A missing time is "".
func formatDate(ts *timestamppb.Timestamp, lang language.Tag) string {
	if ts == nil {
		return ""
	}
	t := ts.AsTime().UTC()
	if lang == locale.French {
		return t.Format("02/01/2006")
	}
	return t.Format(time.DateOnly)
}

// formatPeriod joins the start and end of a billed period with an en dash.
func formatPeriod(start, end *timestamppb.Timestamp, lang language.Tag) string {
	s, e := formatDate(start, lang), formatDate(end, lang)
	switch {
	case s == "":
		return e
	case e == "":
		return s
	}
	return s + " – " + e
}
