package report

// This file holds the markdown primitives: fitting blocks into a budget,
// code spans and fences that cannot be broken out of, escaping.

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

func fenced(s string) []string {
	f := fenceFor(s)
	out := []string{f}
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		out = append(out, escLine(l))
	}
	return append(out, f)
}

// fit drops lines from the last blocks first until the text fits.
func fit(bs []*block, o Options) string {
	size := func() int {
		n := 0
		for _, b := range bs {
			for _, l := range b.lines {
				n += utf8.RuneCountInString(l) + 1
			}
			for _, l := range b.tail {
				n += utf8.RuneCountInString(l) + 1
			}
		}
		return n
	}
	total := size()
	if total <= o.Budget {
		return render(bs)
	}
	note := func(b *block, dropped int) string {
		return fmt.Sprintf("- … %d more %s not shown here: the full diff is in %s.", dropped, b.what, o.FullDiffAt)
	}
	// Reserve room for the notes we may add.
	budget := o.Budget - 200
	for i := len(bs) - 1; i >= 0 && total > budget; i-- {
		b := bs[i]
		if b.keep >= len(b.lines) {
			continue
		}
		if b.droppable {
			for _, l := range b.lines {
				total -= utf8.RuneCountInString(l) + 1
			}
			for _, l := range b.tail {
				total -= utf8.RuneCountInString(l) + 1
			}
			b.lines, b.tail = nil, nil
			continue
		}
		// Make room for the note too, so adding it cannot push the text
		// over and cost an earlier (more important) block a line.
		reserve := utf8.RuneCountInString(note(b, len(b.lines))) + 1
		dropped := 0
		for len(b.lines) > b.keep && total+reserve > budget {
			l := b.lines[len(b.lines)-1]
			b.lines = b.lines[:len(b.lines)-1]
			total -= utf8.RuneCountInString(l) + 1
			dropped++
		}
		if dropped > 0 {
			n := note(b, dropped)
			b.lines = append(b.lines, n)
			total += utf8.RuneCountInString(n) + 1
		}
	}
	out := render(bs)
	if !strings.Contains(out, "not shown here") {
		out += fmt.Sprintf("\n_Some detail was left out to fit; the full diff is in %s._\n", o.FullDiffAt)
	}
	return out
}

func render(bs []*block) string {
	var sb strings.Builder
	for _, b := range bs {
		for _, l := range b.lines {
			sb.WriteString(l)
			sb.WriteByte('\n')
		}
		if len(b.lines) > 0 {
			for _, l := range b.tail {
				sb.WriteString(l)
				sb.WriteByte('\n')
			}
		}
	}
	return sb.String()
}

// code renders s as inline code whatever backticks it holds.
func code(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = escLine(s)
	longest := longestBackticks(s)
	if longest == 0 {
		return "`" + s + "`"
	}
	f := strings.Repeat("`", longest+1)
	return f + " " + s + " " + f
}

func fenceFor(s string) string {
	return strings.Repeat("`", max(3, longestBackticks(s)+1))
}

// longestBackticks is the longest run of backticks in s: a code span or
// fence must be longer to hold it.
func longestBackticks(s string) int {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return longest
}

// escLine keeps text from forging our hidden comment markers.
func escLine(s string) string { return strings.ReplaceAll(s, "<!--", "<\u200b!--") }

// Escape escapes text shown outside code: markdown and HTML metacharacters.
func Escape(s string) string { return mdEscaper.Replace(s) }

func esc(s string) string { return Escape(s) }

var mdEscaper = strings.NewReplacer("\\", "\\\\", "*", "\\*", "_", "\\_", "`", "\\`", "<", "&lt;", ">", "&gt;", "[", "\\[", "]", "\\]", "|", "\\|", "\n", " ")

// ShortSHA is a commit's first seven hex digits, as git abbreviates it.
func ShortSHA(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// Plural is "s" unless n is 1.
func Plural(n int) string { return plural(n) }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
