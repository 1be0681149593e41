package advisor

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/optix-bot/optix-bot/integrations/llm/redact"
	"github.com/optix-bot/optix-bot/posture"
	"github.com/optix-bot/optix-bot/posture/remediate"
	"github.com/optix-bot/optix-bot/prompts"
)

// TailorResult is the script to show for a fix and how it came to be.
type TailorResult struct {
	// Script is the tailored script, or the vetted one when tailoring was
	// off, failed or was refused. Either way it passed the linter.
	Script   *remediate.Script
	Tailored bool
	Outcome  Outcome
	// Reason says why the vetted script is shown (for the reply and the
	// audit entry): the LLM's failure, or the check the tailored script
	// failed, e.g. "line 41 differs from the vetted template outside the
	// allowed slots".
	Reason  string
	Changes []string // the model's list of what it changed, restored
	Raw     bool
}

// Tailor asks the model to adapt the vetted script's slots (resource
// names, tag values) to the team's conventions and context. The answer is
// accepted only if remediate.Tailor rebuilds it from the template with
// pattern-checked slot values and the linter passes it; otherwise the
// vetted script stands and the audit entry of the call says why.
func (a *Advisor) Tailor(ctx context.Context, actor string, in remediate.Input, vetted *remediate.Script, conventions map[string]string) TailorResult {
	res := TailorResult{Script: vetted, Outcome: OutcomeOff}
	if !a.Enabled() || vetted == nil || len(vetted.Slots) == 0 || in.Finding == nil {
		return res
	}
	res.Raw = a.cfg.SendRaw
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()

	var red *redact.Redactor
	if !a.cfg.SendRaw {
		red = redact.New()
		knowFinding(red, in.Finding)
		// A script is mostly identifiers, so even a short or common name
		// ("jo", "admin") is replaced; Restore gives it back exactly.
		red.KnownExact(redact.KindResource, resourceNames(in.Finding.Resource.ID)...)
		red.KnownExact(redact.KindResource, in.Finding.Resource.Name)
	}
	data := prompts.TailorInput{Task: prompts.TaskTailor, Format: string(vetted.Format), Script: vetted.Body,
		Context: map[string]string{}, Conventions: conventions}
	for _, s := range vetted.Slots {
		meaning := s.Meaning
		if s.Name == remediate.SlotResourceName || s.Name == remediate.SlotPolicyResourceName {
			meaning += ". At most five words, each taken from the vetted names, the script's resource types, the check id, the context or the conventions"
		}
		data.Slots = append(data.Slots, prompts.SlotInfo{Name: s.Name, Value: s.Value, Pattern: s.Pattern, Meaning: meaning})
	}
	ctxVals := map[string]string{"environment": string(in.Attr.Environment), "criticality": in.Attr.Criticality}
	// As for ranking: an owner or application read from a tag is not sent.
	if !fromTag(in.Attr, "tag owner", "tag team") {
		ctxVals["owner"] = label(in.Attr.Owner)
	}
	if !fromTag(in.Attr, "tag application", "tag app") {
		ctxVals["application"] = label(in.Attr.Application)
	}
	for k, v := range ctxVals {
		if v != "" {
			data.Context[k] = v
		}
	}
	var payload any = data
	if red != nil {
		v, err := red.JSON(data)
		if err != nil {
			a.cfg.Log.Error("redact tailor data", "err", err)
			res.Outcome, res.Reason = OutcomeFallback, "the script could not be prepared for the LLM"
			return res
		}
		payload = v
	}
	p, err := a.cfg.Prompts.Render("tailor-script", map[string]any{"Format": string(vetted.Format)}, payload)
	if err != nil {
		a.cfg.Log.Error("render tailor prompt", "err", err)
		res.Outcome, res.Reason = OutcomeFallback, "the LLM prompt could not be built"
		return res
	}
	if estimateTokens(p.System, p.User) > a.cfg.TokenBudget {
		res.Outcome, res.Reason = OutcomeFallback, "the script is too long for the LLM token budget"
		return res
	}

	allowed := namingWords(vetted, data)
	// The answer's contract includes the script check, so a script that
	// differs outside the slots earns the one repair attempt like invalid
	// JSON does, and the audit entry of each call records why.
	var tailored *remediate.Script
	var changes []string
	check := func(text string) error {
		ans, err := prompts.ParseTailor(text)
		if err != nil {
			return err
		}
		script := ans.Script
		if red != nil {
			script = red.Restore(script)
		}
		s, err := remediate.Tailor(in, vetted.Format, script)
		if err != nil {
			var te *remediate.TailorError
			if errors.As(err, &te) {
				return refusal{te}
			}
			return err
		}
		if s.SHA256 != vetted.SHA256 && len(s.Tailored) == 0 {
			return errors.New("the rebuilt script differs from the vetted one without a changed slot")
		}
		// A name an approver reads in the plan must not tell them what to
		// do ("approved_by_security", "lgtm_ship_it"): each of its words
		// must come from the naming context the model was given.
		for _, name := range s.Tailored {
			if why := nameProblem(s.Values[name], allowed, in.Attr.Environment); why != "" {
				return slotRefusal{slot: name, why: why}
			}
		}
		tailored, changes = s, ans.Changes
		return nil
	}
	// The answer repeats the script, so it needs the script's length again.
	ans, err := a.exchange(ctx, actor, in.Finding.ID, p, red, check, 500+estimateTokens(vetted.Body)*2, map[string]string{"check": vetted.Check, "format": string(vetted.Format)})
	if err != nil {
		res.Outcome, res.Reason = OutcomeFallback, tailorReason(err)
		return res
	}
	// The cache hands back text, so check it again to rebuild the script.
	if tailored == nil {
		if err := check(ans.text); err != nil {
			res.Outcome, res.Reason = OutcomeFallback, tailorReason(err)
			return res
		}
	}
	res.Outcome = ans.outcome
	if len(tailored.Tailored) == 0 {
		res.Reason = "the LLM kept the vetted script as it is"
		return res
	}
	res.Script, res.Tailored = tailored, true
	for _, c := range changes {
		res.Changes = append(res.Changes, restore(red, c, 160))
	}
	return res
}

func tailorReason(err error) string {
	var te *remediate.TailorError
	if errors.As(err, &te) {
		return "the tailored script was refused: " + refusal{te}.Error()
	}
	var sr slotRefusal
	if errors.As(err, &sr) {
		return "the tailored script was refused: " + sr.Error()
	}
	return reasonOf(err)
}

// slotRefusal is a tailored slot value that passed remediate.Tailor but
// not the advisor's own check; like refusal, it quotes no value.
type slotRefusal struct{ slot, why string }

func (r slotRefusal) Error() string { return "the value given for slot " + r.slot + " " + r.why }

// namingWords are the words a tailored name may be built of: the vetted
// names, the check id, and the context and conventions the model was
// given (so "<application>_<what it fixes>" works), lower case.
func namingWords(vetted *remediate.Script, data prompts.TailorInput) map[string]bool {
	words := map[string]bool{}
	add := func(s string) {
		for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			// Short and function words say nothing about a resource and
			// can be strung into a message ("owner_allowed_it").
			if len(w) >= 2 && !stopWords[w] {
				words[w] = true
			}
		}
	}
	for _, sl := range vetted.Slots {
		add(sl.Value)
	}
	add(vetted.Check)
	// The script's own snake_case identifiers: resource types and
	// attributes ("aws_iam_user_policy_attachment"), so "policy" and
	// "attachment" may be used in a name.
	for _, id := range reSnake.FindAllString(vetted.Body, -1) {
		add(id)
	}
	for _, v := range data.Context {
		add(v)
	}
	for _, v := range data.Conventions {
		add(v)
	}
	return words
}

// nameProblem says what is wrong with a tailored name, "" when nothing:
// it must not read like an instruction, and every word must come from
// allowed. Tag values (which may change case only) have no words to check.
func nameProblem(v string, allowed map[string]bool, env posture.Environment) string {
	spaced := strings.NewReplacer("_", " ", "-", " ").Replace(v)
	if steers(nameSteer, spaced) || instructionLike(v) {
		return "reads like an instruction"
	}
	for _, w := range strings.Fields(strings.ToLower(spaced)) {
		if e, ok := posture.ParseEnvironment(w); ok && env != "" && e != env && len(w) > 2 {
			return "names another environment than the finding's"
		}
		if !allowed[w] && !allowed[strings.ToLower(v)] {
			return "uses words that are not in the naming context (the vetted names, the script's resource types, the check, the context and conventions)"
		}
	}
	return ""
}

var stopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`the is it its what which who this that these those are was were be been will can may must
		should would could all any each every only just now then not no yes and or of to for with in on by at as an if
		so do does done allowed required ok okay safe fine good`) {
		stopWords[w] = true
	}
}

var reSnake = regexp.MustCompile(`\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b`)

// refusal says why a tailored script was refused without quoting it: the
// values are the model's text, which is not shown to people, put in the
// audit chain, or sent back in a repair request.
type refusal struct{ te *remediate.TailorError }

func (r refusal) Error() string {
	te := r.te
	switch te.Reason {
	case remediate.TailorOutsideSlots:
		return fmt.Sprintf("line %d differs from the vetted template outside the allowed slots", te.Line)
	case remediate.TailorSlotValue:
		return fmt.Sprintf("line %d: the value given for slot %s is not allowed (it must match the slot's pattern, be the same at every occurrence, and a tag value may change only its letter case)", te.Line, te.Slot)
	case remediate.TailorLint:
		if len(te.Violations) > 0 {
			v := te.Violations[0]
			return fmt.Sprintf("the rebuilt script fails the linter (rule %s, line %d)", v.Rule, v.Line)
		}
		return "the rebuilt script fails the linter"
	}
	return "there is no vetted script to tailor"
}

func (r refusal) Unwrap() error { return r.te }
