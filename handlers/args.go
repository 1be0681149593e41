package handlers

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/optix-bot/optix-bot/posture"
)

// argError is a bad argument, told to the user in one sentence.
type argError string

func (e argError) Error() string { return string(e) }

func argErrorf(format string, a ...any) error { return argError(fmt.Sprintf(format, a...)) }

// listArgs is what top-risks and clusters accept: an optional count and
// key=value filters.
type listArgs struct {
	N      int
	Filter posture.Filter
}

// parseListArgs reads "[N] [provider=...] [account=...] [env=...] [min=...]".
// Every problem is one sentence naming what to type instead.
func parseListArgs(args []string, defaultN int, allowFilters bool) (listArgs, error) {
	la := listArgs{N: defaultN}
	seenN := false
	for _, a := range args {
		key, val, isKV := strings.Cut(a, "=")
		if !isKV {
			if seenN {
				return la, argErrorf("Give one number at most; %q is extra.", short(a))
			}
			n, err := strconv.Atoi(a)
			if err != nil || n < 1 || n > 50 {
				return la, argError("N must be a whole number from 1 to 50.")
			}
			la.N, seenN = n, true
			continue
		}
		if !allowFilters {
			return la, argErrorf("This command takes only a number, not %q.", short(a))
		}
		val = strings.TrimSpace(val)
		if val == "" {
			return la, argErrorf("%s= needs a value.", short(key))
		}
		switch strings.ToLower(key) {
		case "provider", "cloud":
			p := posture.NormalizeProvider(val)
			if p != "aws" && p != "azure" && p != "gcp" {
				return la, argErrorf("provider must be aws, azure or gcp, not %q.", short(val))
			}
			la.Filter.Provider = p
		case "account":
			la.Filter.Account = val
		case "env", "environment":
			env, ok := posture.ParseEnvironment(val)
			if !ok || env == "" {
				return la, argErrorf("env must be production, staging, dev or sandbox, not %q.", short(val))
			}
			la.Filter.Environment = env
		case "min", "band", "severity":
			b, ok := posture.ParseBand(val)
			if !ok {
				return la, argErrorf("min must be critical, high, medium or low, not %q.", short(val))
			}
			la.Filter.MinBand = b
		default:
			return la, argErrorf("Unknown option %q; use provider=, account=, env= or min=.", short(key))
		}
	}
	return la, nil
}

// short keeps echoed user input to a readable length.
func short(s string) string {
	r := []rune(flat(s))
	if len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return string(r)
}
