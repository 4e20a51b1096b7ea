/* `bertsweep report --format html`: one self-contained page (report/page.html, compiled in)
   holding the report's JSON, every run's row and its curves (downsampled to at most
   HTML_POINTS points per run), and the files' provenance; the page's own script draws the
   plots and tables from them. Nothing is fetched: no http(s) reference of any kind. */
#ifndef BS_HTML_H
#define BS_HTML_H

enum { HTML_POINTS = 200 };

#endif
