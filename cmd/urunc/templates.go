package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/urunc-runtime/urunc/internal/lifecycle"
)

// templatesCommand lists and prunes the VM template cache ([templates]).
var templatesCommand = &cli.Command{
	Name:  "templates",
	Usage: "list or prune the VM templates Linux guests start from",
	Subcommands: []*cli.Command{
		{
			Name:  "list",
			Usage: "list the template cache's entries, least recently used first",
			Action: func(c *cli.Context) error {
				ents, err := templateEntries(c)
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
				fmt.Fprintln(w, "ENTRY\tBYTES\tLAST USED")
				for _, e := range ents {
					fmt.Fprintf(w, "%s\t%d\t%s\n", e.Path, e.Bytes, e.LastUsed.UTC().Format(time.RFC3339))
				}
				return w.Flush()
			},
		},
		{
			Name:  "prune",
			Usage: "remove the template cache's entries (all, or those unused for --unused-for)",
			Description: `Running containers are not affected: a clone keeps the template's memory it
mapped. A container that starts while its entry is removed boots cold.`,
			Flags: []cli.Flag{
				&cli.DurationFlag{Name: "unused-for", Usage: "remove only entries not used for this long (e.g. 24h)"},
			},
			Action: func(c *cli.Context) error {
				ents, err := templateEntries(c)
				if err != nil {
					return err
				}
				cutoff := time.Now().Add(-c.Duration("unused-for"))
				for _, e := range ents {
					if e.LastUsed.After(cutoff) {
						continue
					}
					if err := lifecycle.RemoveTemplate(e.Path); err != nil {
						return err
					}
					fmt.Println(e.Path)
				}
				return nil
			},
		},
	},
}

// templateEntries lists the cache entries of the configured [templates] dir.
func templateEntries(c *cli.Context) ([]lifecycle.TemplateEntry, error) {
	if err := checkArgs(c, 0, 0); err != nil {
		return nil, err
	}
	cfg, err := loadConfig(c)
	if err != nil {
		return nil, err
	}
	ents, err := lifecycle.ListTemplates(cfg.Templates.Dir)
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	return ents, nil
}
