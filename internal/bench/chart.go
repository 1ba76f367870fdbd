package bench

import (
	"image/color"
	"math"
	"strconv"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var (
	blue   = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}
	orange = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}
	grey   = color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}
	green  = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}
	dashed = []vg.Length{vg.Points(5), vg.Points(3)}
)

// series is one line of a chart.
type series struct {
	name   string
	c      color.Color
	dashes []vg.Length
	pts    plotter.XYs
}

// latencyPlot draws the open loop: latency p50 and p99 of POST /ticket (bare and serve) and of
// create → webhook, against offered load, both axes logarithmic.
func latencyPlot(r *Report, path string) error {
	var s []series
	add := func(name string, c color.Color, d []vg.Length, target string, f func(LoadResult) time.Duration) {
		l := series{name: name, c: c, dashes: d}
		for _, x := range r.Open {
			if x.Target == target {
				if v := f(x); v > 0 {
					l.pts = append(l.pts, plotter.XY{X: x.Rate, Y: float64(v) / 1e6})
				}
			}
		}
		s = append(s, l)
	}
	add("serve: POST /ticket p50", blue, nil, "serve", func(x LoadResult) time.Duration { return x.Latency.P50 })
	add("serve: POST /ticket p99", blue, dashed, "serve", func(x LoadResult) time.Duration { return x.Latency.P99 })
	add("serve: create → webhook p50", orange, nil, "serve", func(x LoadResult) time.Duration { return x.Delivered.P50 })
	add("serve: create → webhook p99", orange, dashed, "serve", func(x LoadResult) time.Duration { return x.Delivered.P99 })
	add("bare net/http p50", grey, nil, "bare", func(x LoadResult) time.Duration { return x.Latency.P50 })
	add("bare net/http p99", grey, dashed, "bare", func(x LoadResult) time.Duration { return x.Latency.P99 })
	var ticks []float64
	for _, x := range r.Open {
		if x.Target == "serve" {
			ticks = append(ticks, x.Rate)
		}
	}
	return drawChart(path, "Latency against offered load (open loop)", "offered tickets per second", "latency (ms)", ticks, s)
}

// throughputPlot draws the closed loop: answers a second of bare and serve, and notifications
// delivered a second during the load, against clients.
func throughputPlot(r *Report, path string) error {
	var s []series
	add := func(name string, c color.Color, d []vg.Length, target string, f func(LoadResult) float64) {
		l := series{name: name, c: c, dashes: d}
		for _, x := range r.Closed {
			if x.Target == target {
				if v := f(x); v > 0 {
					l.pts = append(l.pts, plotter.XY{X: float64(x.Clients), Y: v})
				}
			}
		}
		s = append(s, l)
	}
	add("bare net/http: answers/s", grey, nil, "bare", func(x LoadResult) float64 { return x.Throughput })
	add("serve: creates/s", blue, nil, "serve", func(x LoadResult) float64 { return x.Throughput })
	add("serve: notifications delivered/s during the load", green, dashed, "serve", func(x LoadResult) float64 { return x.DeliveredPerSecond })
	var ticks []float64
	for _, x := range r.Closed {
		if x.Target == "serve" {
			ticks = append(ticks, float64(x.Clients))
		}
	}
	return drawChart(path, "POST /ticket throughput against clients (closed loop)", "concurrent clients", "per second", ticks, s)
}

// drawChart saves a log-log line chart of ss as a PNG, with xTicks labelled on the x axis.
func drawChart(path, title, xLabel, yLabel string, xTicks []float64, ss []series) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		if len(s.pts) == 0 {
			continue
		}
		for _, pt := range s.pts {
			ymin, ymax = min(ymin, pt.Y), max(ymax, pt.Y)
		}
		l, pts, err := plotter.NewLinePoints(s.pts)
		if err != nil {
			return err
		}
		l.Color, l.Dashes = s.c, s.dashes
		l.Width = vg.Points(1.5)
		pts.Color, pts.Shape = s.c, draw.CircleGlyph{}
		p.Add(l, pts)
		p.Legend.Add(s.name, l, pts)
	}
	if len(xTicks) > 0 && ymax > 0 {
		xmin, xmax := xTicks[0], xTicks[0]
		var ct plot.ConstantTicks
		for _, x := range xTicks {
			xmin, xmax = min(xmin, x), max(xmax, x)
			ct = append(ct, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', -1, 64)})
		}
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, ct
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		// Room around the points, and above them for the legend.
		p.X.Min, p.X.Max = xmin/1.5, xmax*1.5
		p.Y.Min, p.Y.Max = ymin/2, ymax*20
	}
	return p.Save(8*vg.Inch, 5*vg.Inch, path)
}
