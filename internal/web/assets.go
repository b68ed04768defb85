package web

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// assetCacheControl lets browsers keep an asset for a year: its URL changes
// whenever its content does.
const assetCacheControl = "public, max-age=31536000, immutable"

// asset is one file of static/, served at /static/<stem>.<hash>.<ext>.
type asset struct {
	name        string // file name in static/, e.g. "vigil.css"
	file        string // served name, e.g. "vigil.3f9a0c1d2e4b.css"
	hash        string
	contentType string
	body        []byte
}

// assets are the files of static/, by file name and by served name.
type assets struct {
	byName map[string]*asset
	byFile map[string]*asset
}

// loadAssets reads every file at the top of fsys (Go files excepted).
func loadAssets(fsys fs.FS) (*assets, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("assets: %w", err)
	}
	a := &assets{byName: map[string]*asset{}, byFile: map[string]*asset{}}
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("assets: %w", err)
		}
		sum := sha256.Sum256(body)
		hash := hex.EncodeToString(sum[:6])
		ext := path.Ext(e.Name())
		stem := strings.TrimSuffix(e.Name(), ext)
		ct := mime.TypeByExtension(ext)
		switch {
		case ext == ".js":
			ct = "text/javascript; charset=utf-8"
		case ct == "":
			ct = "text/plain; charset=utf-8"
		}
		as := &asset{name: e.Name(), file: stem + "." + hash + ext, hash: hash, contentType: ct, body: body}
		a.byName[as.name] = as
		a.byFile[as.file] = as
	}
	return a, nil
}

// url returns the path of the asset named name (its file name in static/),
// e.g. "/static/vigil.3f9a0c1d2e4b.css". Templates call it as
// {{asset "vigil.css"}}.
func (a *assets) url(name string) (string, error) {
	as, ok := a.byName[name]
	if !ok {
		return "", fmt.Errorf("unknown asset %q", name)
	}
	return "/static/" + as.file, nil
}

// serveAsset answers GET /static/<stem>.<hash>.<ext>; any other name,
// including an old hash, is a 404.
func (s *Server) serveAsset(c *fiber.Ctx) error {
	as, ok := s.assets.byFile[c.Params("file")]
	if !ok {
		return fiber.ErrNotFound
	}
	c.Set(fiber.HeaderCacheControl, assetCacheControl)
	c.Set(fiber.HeaderETag, `"`+as.hash+`"`)
	if c.Get(fiber.HeaderIfNoneMatch) == `"`+as.hash+`"` {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, as.contentType)
	return c.Send(as.body)
}
