package bot

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// User is the caller as the platform identifies them.
type User struct {
	ID     string   `json:"id"`   // Slack user id (U…), Discord id, or console name
	Name   string   `json:"name"` // display name, untrusted
	Groups []string `json:"groups,omitempty"`
}

// Request is one slash command or button click.
type Request struct {
	Platform string `json:"platform"` // slack, discord, console
	User     User   `json:"user"`
	Channel  string `json:"channel,omitempty"`
	Text     string `json:"text"` // the command as typed, "/optix top-risks 5"
	Verb     string `json:"verb"`
	Args     []string
	// Action is set when the request is a button click.
	Action *Action `json:"action,omitempty"`
	// DeliveryID identifies one delivery so that a platform's retry of it
	// (or a double click) is not run twice.
	DeliveryID string    `json:"delivery_id,omitempty"`
	Received   time.Time `json:"received"`
}

// Action is a button click: which button and the opaque value it carried.
type Action struct {
	ID    string `json:"id"`
	Value string `json:"value"`
	// Reason is extra text a platform collected with the click (the reason
	// typed into a reject dialog).
	Reason string `json:"reason,omitempty"`
}

// MaxCommandLen bounds what the parser accepts; a chat command longer than
// this is a paste accident or an attack, not a command.
const MaxCommandLen = 4000

// ErrEmptyCommand is returned for a blank command.
var ErrEmptyCommand = errors.New("empty command")

// ParseCommand splits "/optix top-risks 5 env=prod" into its verb and
// arguments. The leading "/optix" is optional (Slack sends the text after
// the command name). Double or single quotes group words, so a reject
// reason can hold spaces.
func ParseCommand(text string) (verb string, args []string, err error) {
	if len(text) > MaxCommandLen {
		return "", nil, fmt.Errorf("the command is %d characters long; the limit is %d", len(text), MaxCommandLen)
	}
	fields, err := splitQuoted(text)
	if err != nil {
		return "", nil, err
	}
	if len(fields) > 0 && strings.EqualFold(fields[0], "/optix") {
		fields = fields[1:]
	}
	if len(fields) == 0 {
		return "", nil, ErrEmptyCommand
	}
	return strings.ToLower(fields[0]), fields[1:], nil
}

func splitQuoted(s string) ([]string, error) {
	var out []string
	var cur strings.Builder
	var quote rune
	inField := false
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'' || r == '“' || r == '”':
			if r == '“' || r == '”' {
				r = '”'
			}
			quote = r
			inField = true
		case unicode.IsSpace(r):
			if inField {
				out = append(out, cur.String())
				cur.Reset()
				inField = false
			}
		default:
			cur.WriteRune(r)
			inField = true
		}
	}
	if quote != 0 {
		return nil, errors.New("a quote is not closed")
	}
	if inField {
		out = append(out, cur.String())
	}
	return out, nil
}
