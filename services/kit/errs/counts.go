package errs

import (
	"golang.org/x/text/language"
	xcatalog "golang.org/x/text/message/catalog"

	"github.com/selfserve/selfserve/services/kit/locale"
)

// A Sentence is a message with numbers in it, worded in each language by the
// CLDR plural rules of its counts ("1 license is available", "2 licenses are
// available"; French takes the singular for 0 too; Chinese has one form). An
// error made with Counted carries it as its status message, in English, and
// as its LocalizedMessage, in the caller's language.
type Sentence struct{ key string }

// The counted sentences, with their counts in the order Counted takes them.
var (
	// LicensesNeeded: users that need a license, licenses available.
	LicensesNeeded = Sentence{"count licenses needed"}
	// LicensesAssigned: licenses assigned, the total asked for.
	LicensesAssigned = Sentence{"count licenses assigned"}
	// UsersNamed: users named in one call, the most one call takes.
	UsersNamed = Sentence{"count users named"}
)

// counted is a variable of a counted sentence: the plural form of argument arg
// (1-based), each form a format.
func counted(name string, arg int, one, other string) xcatalog.Message {
	return xcatalog.Var(name, locale.Plural(arg, one, other))
}

func str(text string) xcatalog.Message { return xcatalog.String(text) }

// sentences holds every Sentence in en, fr, sv and zh-CN, in that order.
var sentences = map[Sentence][4][]xcatalog.Message{
	LicensesNeeded: {
		{counted("need", 1, "%[1]d user needs a license", "%[1]d users need a license"),
			counted("available", 2, "%[2]d is available", "%[2]d are available"),
			str("${need}, but ${available}.")},
		{counted("need", 1, "%[1]d utilisateur a besoin d'une licence", "%[1]d utilisateurs ont besoin d'une licence"),
			counted("available", 2, "%[2]d licence est disponible", "%[2]d licences sont disponibles"),
			str("${need}, mais ${available}.")},
		{counted("available", 2, "%[2]d licens är ledig", "%[2]d licenser är lediga"),
			str("%[1]d användare behöver en licens, men ${available}.")},
		{str("%[1]d 个用户需要许可证，但只有 %[2]d 个可用。")},
	},
	LicensesAssigned: {
		{counted("assigned", 1, "%[1]d license is assigned", "%[1]d licenses are assigned"),
			str("${assigned}, so the total cannot be %[2]d.")},
		{counted("assigned", 1, "%[1]d licence est attribuée", "%[1]d licences sont attribuées"),
			str("${assigned}, le total ne peut donc pas être de %[2]d.")},
		{counted("assigned", 1, "%[1]d licens är tilldelad", "%[1]d licenser är tilldelade"),
			str("${assigned}, så totalen kan inte vara %[2]d.")},
		{str("已分配 %[1]d 个许可证，因此总数不能为 %[2]d。")},
	},
	UsersNamed: {
		{counted("named", 1, "%[1]d user was named", "%[1]d users were named"),
			counted("most", 2, "one request can handle at most %[2]d user", "one request can handle at most %[2]d users"),
			str("${named}, but ${most}.")},
		{counted("named", 1, "%[1]d utilisateur a été indiqué", "%[1]d utilisateurs ont été indiqués"),
			counted("most", 2, "une requête peut traiter au plus %[2]d utilisateur", "une requête peut traiter au plus %[2]d utilisateurs"),
			str("${named}, mais ${most}.")},
		{str("%[1]d användare angavs, men en begäran kan hantera högst %[2]d användare.")},
		{str("指定了 %[1]d 个用户，但一次请求最多可处理 %[2]d 个用户。")},
	},
}

// Sentences lists every counted sentence (for tests).
func Sentences() []Sentence {
	out := make([]Sentence, 0, len(sentences))
	for k := range sentences {
		out = append(out, k)
	}
	return out
}

func init() {
	for k, m := range sentences {
		catalog.SetSequences(k.key, m)
	}
}

// Format writes the sentence with its counts in lang (one of
// locale.Supported; English for any other).
func (s Sentence) Format(lang language.Tag, counts ...int) string {
	return catalog.Sprintf(lang, s.key, ints(counts)...)
}

func ints(counts []int) []any {
	out := make([]any, len(counts))
	for i, n := range counts {
		out[i] = n
	}
	return out
}

// Counted makes an error of reason r whose message is the sentence s with
// counts: in English as the status message, in the caller's language as the
// LocalizedMessage, both in the plural forms the counts call for.
func Counted(r Reason, s Sentence, counts ...int) *Error {
	return &Error{Reason: r, Message: s.Format(locale.English, counts...), sentence: s, counts: append([]int(nil), counts...)}
}
