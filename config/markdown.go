package config

import (
	"strings"
)

// MarkdownTable renders vars as the Markdown table of docs/configuration.md: one row per
// variable with its default ("required" when it has none and must be set) and its meaning.
func MarkdownTable(vars []Variable) string {
	var b strings.Builder
	b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
	for _, v := range vars {
		def := ""
		switch {
		case v.Required:
			def = "required"
		case v.Default != "":
			def = "`" + v.Default + "`"
		}
		b.WriteString("| `" + v.Name + "` | " + def + " | " + strings.ReplaceAll(v.Description, "|", `\|`) + " |\n")
	}
	return b.String()
}
