package slackemu

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Block Kit limits as Slack's Block Kit reference documents them. The
// emulator rejects a message that breaks one with invalid_blocks, as Slack
// does, so renderer bugs surface in tests.
const (
	MaxBlocks       = 50
	MaxSectionText  = 3000
	MaxFieldText    = 2000
	MaxFields       = 10
	MaxHeaderText   = 150
	MaxButtonText   = 75
	MaxButtonValue  = 2000
	MaxActionElems  = 25
	MaxContextElems = 10
	MaxContextText  = 3000
	MaxActionID     = 255
	MaxBlockID      = 255
	MaxMessageText  = 40000
)

type textObj struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type element struct {
	Type     string   `json:"type"`
	Text     *textObj `json:"text"`
	ActionID string   `json:"action_id"`
	Value    string   `json:"value"`
	Style    string   `json:"style"`
}

type block struct {
	Type     string            `json:"type"`
	BlockID  string            `json:"block_id"`
	Text     *textObj          `json:"text"`
	Fields   []textObj         `json:"fields"`
	Elements []json.RawMessage `json:"elements"`
	Label    *textObj          `json:"label"`
	Element  json.RawMessage   `json:"element"`
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// ValidateBlocks checks a message's blocks array against Slack's limits.
// The error says which block broke which rule.
func ValidateBlocks(raw []byte) error {
	if len(raw) == 0 {
		return nil
	}
	var blocks []block
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return fmt.Errorf("blocks are not a JSON array of objects: %w", err)
	}
	if len(blocks) > MaxBlocks {
		return fmt.Errorf("%d blocks; at most %d", len(blocks), MaxBlocks)
	}
	blockIDs := map[string]bool{}
	actionIDs := map[string]bool{}
	for i, b := range blocks {
		if err := validateBlock(b, actionIDs); err != nil {
			return fmt.Errorf("block %d (%s): %w", i, b.Type, err)
		}
		if b.BlockID != "" {
			if runes(b.BlockID) > MaxBlockID {
				return fmt.Errorf("block %d: block_id longer than %d", i, MaxBlockID)
			}
			if blockIDs[b.BlockID] {
				return fmt.Errorf("block %d: duplicate block_id %q", i, b.BlockID)
			}
			blockIDs[b.BlockID] = true
		}
	}
	return nil
}

func validText(t *textObj, limit int, wantType string) error {
	if t == nil {
		return fmt.Errorf("missing text")
	}
	if t.Type != "plain_text" && t.Type != "mrkdwn" {
		return fmt.Errorf("text type %q", t.Type)
	}
	if wantType != "" && t.Type != wantType {
		return fmt.Errorf("text must be %s, not %s", wantType, t.Type)
	}
	if t.Text == "" {
		return fmt.Errorf("empty text")
	}
	if n := runes(t.Text); n > limit {
		return fmt.Errorf("text is %d characters; at most %d", n, limit)
	}
	return nil
}

func validateBlock(b block, actionIDs map[string]bool) error {
	switch b.Type {
	case "section":
		if b.Text == nil && len(b.Fields) == 0 {
			return fmt.Errorf("section needs text or fields")
		}
		if b.Text != nil {
			if err := validText(b.Text, MaxSectionText, ""); err != nil {
				return err
			}
		}
		if len(b.Fields) > MaxFields {
			return fmt.Errorf("%d fields; at most %d", len(b.Fields), MaxFields)
		}
		for j := range b.Fields {
			if err := validText(&b.Fields[j], MaxFieldText, ""); err != nil {
				return fmt.Errorf("field %d: %w", j, err)
			}
		}
	case "header":
		return validText(b.Text, MaxHeaderText, "plain_text")
	case "divider":
	case "context":
		if len(b.Elements) == 0 || len(b.Elements) > MaxContextElems {
			return fmt.Errorf("%d context elements; 1 to %d", len(b.Elements), MaxContextElems)
		}
		for j, raw := range b.Elements {
			var t textObj
			if err := json.Unmarshal(raw, &t); err != nil {
				return fmt.Errorf("context element %d: %w", j, err)
			}
			if t.Type == "image" {
				continue
			}
			if err := validText(&t, MaxContextText, ""); err != nil {
				return fmt.Errorf("context element %d: %w", j, err)
			}
		}
	case "actions":
		if len(b.Elements) == 0 || len(b.Elements) > MaxActionElems {
			return fmt.Errorf("%d action elements; 1 to %d", len(b.Elements), MaxActionElems)
		}
		for j, raw := range b.Elements {
			var e element
			if err := json.Unmarshal(raw, &e); err != nil {
				return fmt.Errorf("element %d: %w", j, err)
			}
			if err := validateElement(e, actionIDs); err != nil {
				return fmt.Errorf("element %d: %w", j, err)
			}
		}
	case "input":
		if err := validText(b.Label, 2000, "plain_text"); err != nil {
			return fmt.Errorf("label: %w", err)
		}
		var e element
		if err := json.Unmarshal(b.Element, &e); err != nil || e.Type == "" {
			return fmt.Errorf("input needs an element")
		}
	case "rich_text":
	default:
		return fmt.Errorf("unknown block type %q", b.Type)
	}
	return nil
}

func validateElement(e element, actionIDs map[string]bool) error {
	switch e.Type {
	case "button":
		if err := validText(e.Text, MaxButtonText, "plain_text"); err != nil {
			return err
		}
		if runes(e.Value) > MaxButtonValue {
			return fmt.Errorf("button value is %d characters; at most %d", runes(e.Value), MaxButtonValue)
		}
		if e.Style != "" && e.Style != "primary" && e.Style != "danger" {
			return fmt.Errorf("button style %q", e.Style)
		}
	default:
		// Other interactive elements are not used by optix-bot; accept them
		// with their action id checked.
	}
	if runes(e.ActionID) > MaxActionID {
		return fmt.Errorf("action_id longer than %d", MaxActionID)
	}
	if e.ActionID != "" {
		if actionIDs[e.ActionID] {
			return fmt.Errorf("duplicate action_id %q", e.ActionID)
		}
		actionIDs[e.ActionID] = true
	}
	return nil
}
