// Package deps pins the module graph while the packages that use these
// dependencies are being written. It is removed once every one is imported
// for real.
package deps

import (
	_ "github.com/bwmarrin/discordgo"
	_ "github.com/google/go-cmp/cmp"
	_ "github.com/google/uuid"
	_ "github.com/hashicorp/hcl/v2/hclparse"
	_ "github.com/sashabaranov/go-openai"
	_ "github.com/slack-go/slack"
	_ "github.com/slack-go/slack/slacktest"
	_ "github.com/slack-go/slack/socketmode"
	_ "go.etcd.io/bbolt"
	_ "go.yaml.in/yaml/v3"
	_ "golang.org/x/oauth2/clientcredentials"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/time/rate"
)
