"""`ace3d report`: one self-contained HTML file a person opens in a browser, for a concept bank (the concept
gallery per class) or for one explained video (the clip with heatmap and concept outlines, the tables, the
comparison methods and the deletion/insertion curves). Everything is inline: CSS, a small script, pictures
and animations as data URIs, plots as SVG, so the file views without any network access."""
