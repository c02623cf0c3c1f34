"""The export stage: a QKeras model -> a bit-exact hls4ml project (:mod:`.pipeline`), built from the layer
vocabulary (:mod:`.vocabulary`), the model source (:mod:`.source`), hls4ml's config (:mod:`.hls_config`, user
settings in :mod:`.settings`), the g++ C-simulation check (:mod:`.check`), synthesis (:mod:`.synth`) and the
reports (:mod:`.vendor_reports`, :mod:`.project_report`). ``autoq.export()`` is the entry point."""
