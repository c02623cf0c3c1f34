"""The search stage: one trial (:mod:`.trial`), keras-tuner glue (:mod:`.tuner`), strategies behind one interface
(:mod:`.strategies`), blocks (:mod:`.blocks`), chief and workers (:mod:`.distributed`), the output folder
(:mod:`.folder`: lock, marker, fingerprint; :mod:`.store`: atomic files, records, tables), the result
(:mod:`.result`) and the entry point (:mod:`.run`). ``autoq.search()`` is the entry point."""
