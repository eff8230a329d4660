package invoicepdf

import (
	"strconv"

	"golang.org/x/text/language"

	"github.com/selfserve/selfserve/services/kit/locale"
)

// label names a piece of fixed text printed on an invoice.
type label int

const (
	labelInvoice label = iota
	labelInvoiceNumber
	labelStatus
	labelIssueDate
	labelDueDate
	labelPaidDate
	labelVATID
	labelBillTo
	labelBillingAccount
	labelPONumber
	labelDescription
	labelPeriod
	labelQuantity
	labelAmount
	labelSubtotal
	labelTax
	labelTotal
	labelCurrency
	labelStatusOpen
	labelStatusPaid
	labelStatusPastDue
	labelStatusVoid

	numLabels // not a label: the size of a catalog row
)

// catalog holds every label in every supported language, keyed by locale.Code.
// A row is an array so that a label added above without its translation shows
// up as an empty string, which the catalog test reports.
var catalog = map[string][numLabels]string{
	"en": {
		labelInvoice:        "Invoice",
		labelInvoiceNumber:  "Invoice number",
		labelStatus:         "Status",
		labelIssueDate:      "Issue date",
		labelDueDate:        "Due date",
		labelPaidDate:       "Payment date",
		labelVATID:          "VAT ID",
		labelBillTo:         "Bill to",
		labelBillingAccount: "Billing account",
		labelPONumber:       "PO number",
		labelDescription:    "Description",
		labelPeriod:         "Period",
		labelQuantity:       "Quantity",
		labelAmount:         "Amount",
		labelSubtotal:       "Subtotal",
		labelTax:            "Tax",
		labelTotal:          "Total",
		labelCurrency:       "Currency",
		labelStatusOpen:     "Open",
		labelStatusPaid:     "Paid",
		labelStatusPastDue:  "Past due",
		labelStatusVoid:     "Void",
	},
	"fr": {
		labelInvoice:        "Facture",
		labelInvoiceNumber:  "Numéro de facture",
		labelStatus:         "Statut",
		labelIssueDate:      "Date d'émission",
		labelDueDate:        "Date d'échéance",
		labelPaidDate:       "Date de paiement",
		labelVATID:          "N° de TVA",
		labelBillTo:         "Facturer à",
		labelBillingAccount: "Compte de facturation",
		labelPONumber:       "N° de bon de commande",
		labelDescription:    "Désignation",
		labelPeriod:         "Période",
		labelQuantity:       "Quantité",
		labelAmount:         "Montant",
		labelSubtotal:       "Sous-total",
		labelTax:            "Taxes",
		labelTotal:          "Total",
		labelCurrency:       "Devise",
		labelStatusOpen:     "À payer",
		labelStatusPaid:     "Payée",
		labelStatusPastDue:  "En retard",
		labelStatusVoid:     "Annulée",
	},
	"sv": {
		labelInvoice:        "Faktura",
		labelInvoiceNumber:  "Fakturanummer",
		labelStatus:         "Status",
		labelIssueDate:      "Fakturadatum",
		labelDueDate:        "Förfallodatum",
		labelPaidDate:       "Betalningsdatum",
		labelVATID:          "Momsreg.nr",
		labelBillTo:         "Faktureras till",
		labelBillingAccount: "Faktureringskonto",
		labelPONumber:       "Inköpsordernummer",
		labelDescription:    "Beskrivning",
		labelPeriod:         "Period",
		labelQuantity:       "Antal",
		labelAmount:         "Belopp",
		labelSubtotal:       "Delsumma",
		labelTax:            "Moms",
		labelTotal:          "Totalt",
		labelCurrency:       "Valuta",
		labelStatusOpen:     "Obetald",
		labelStatusPaid:     "Betald",
		labelStatusPastDue:  "Förfallen",
		labelStatusVoid:     "Makulerad",
	},
	"zh-CN": {
		labelInvoice:        "发票",
		labelInvoiceNumber:  "发票号码",
		labelStatus:         "状态",
		labelIssueDate:      "开票日期",
		labelDueDate:        "到期日",
		labelPaidDate:       "付款日期",
		labelVATID:          "增值税号",
		labelBillTo:         "收票方",
		labelBillingAccount: "账单账户",
		labelPONumber:       "采购订单号",
		labelDescription:    "描述",
		labelPeriod:         "计费周期",
		labelQuantity:       "数量",
		labelAmount:         "金额",
		labelSubtotal:       "小计",
		labelTax:            "税额",
		labelTotal:          "总计",
		labelCurrency:       "币种",
		labelStatusOpen:     "待付款",
		labelStatusPaid:     "已付款",
		labelStatusPastDue:  "已逾期",
		labelStatusVoid:     "已作废",
	},
}

// messages is the message catalog the labels are printed from.
var messages = func() *locale.Catalog {
	c := locale.NewCatalog("invoicepdf")
	for l := range numLabels {
		var texts [4]string
		for i, lang := range locale.Supported {
			texts[i] = catalog[locale.Code(lang)][l]
		}
		c.Set(l.key(), texts)
	}
	return c
}()

func (l label) key() string { return "invoice label " + strconv.Itoa(int(l)) }

// text is a label in a supported language (see locale.Supported).
func text(lang language.Tag, l label) string {
	return messages.Sprintf(lang, l.key())
}
