// Package bot is the chat gateway: platform-neutral requests and replies,
// the command table, and the router that the Slack, Discord and console
// adapters all share. Only the adapters know their platform's markup and
// limits; everything here is plain text.
package bot

// Reply is what a handler answers, before any platform renders it. Every
// string in it is plain text and may hold untrusted content (resource names,
// tags, summaries): renderers escape it for their platform.
type Reply struct {
	OK bool `json:"ok"`
	// Error is the one sentence shown when OK is false.
	Error    string    `json:"error,omitempty"`
	Title    string    `json:"title,omitempty"`
	Summary  string    `json:"summary,omitempty"`
	Items    []Item    `json:"items,omitempty"`
	Sections []Section `json:"sections,omitempty"`
	Code     *Code     `json:"code,omitempty"`
	Buttons  []Button  `json:"buttons,omitempty"`
	Footer   string    `json:"footer,omitempty"`
	// Ephemeral replies are shown only to the caller where the platform can
	// (errors, help).
	Ephemeral bool `json:"ephemeral,omitempty"`
	// Replace asks the adapter to update the message the click came from
	// (its buttons go away) rather than post a new one.
	Replace bool `json:"replace,omitempty"`
}

// Item is one ranked entry of a list: a finding, a cluster of findings of
// the same check, or a toxic combination on one resource.
type Item struct {
	Rank        int    `json:"rank"`
	Kind        string `json:"kind"` // finding, cluster, combination
	ID          string `json:"id"`   // F-xxxxxxxx or C-xxxxxxxx
	Band        string `json:"band"` // CRITICAL, HIGH, MEDIUM, LOW
	Score       int    `json:"score"`
	Title       string `json:"title"`
	Resource    string `json:"resource,omitempty"`
	Provider    string `json:"provider,omitempty"`
	Account     string `json:"account,omitempty"`
	Environment string `json:"environment,omitempty"`
	Owner       string `json:"owner,omitempty"`
	Why         string `json:"why,omitempty"`
	Count       int    `json:"count,omitempty"` // findings in a cluster or combination
	// Impact, Next and Label are an LLM's words on the entry (a business
	// impact sentence, a next action, a group label); empty when ranked by
	// rules only.
	Impact string `json:"impact,omitempty"`
	Next   string `json:"next_action,omitempty"`
	Label  string `json:"label,omitempty"`
}

// Section is a block of text with optional label/value fields.
type Section struct {
	Heading string  `json:"heading,omitempty"`
	Text    string  `json:"text,omitempty"`
	Fields  []Field `json:"fields,omitempty"`
}

// Field is one label/value pair.
type Field struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Code is a script or file shown verbatim.
type Code struct {
	Language string `json:"language"` // hcl, bash, yaml
	Filename string `json:"filename"`
	Body     string `json:"body"`
	SHA256   string `json:"sha256,omitempty"`
}

// Button is an interactive action. Value carries only an opaque id (a
// change-request id): everything else is looked up server-side when the
// click arrives, so a forged value can name nothing but an id.
type Button struct {
	ActionID string `json:"action_id"` // approve, reject
	Label    string `json:"label"`
	Value    string `json:"value"`
	Style    string `json:"style,omitempty"` // primary, danger
}

// Errorf-style helpers keep handlers short.

// Fail is a reply that reports a user error in one sentence.
func Fail(sentence string) Reply {
	return Reply{OK: false, Error: sentence, Ephemeral: true}
}
