"""The built-in mini-world pack (models/mini-world): its training recipe and everything measured on it.

Entry points (run from training/, or with PYTHONPATH=training):
  python -m twinlens_train.mini_world.train           stages data … report (npm run train:mini-world)
  python -m twinlens_train.mini_world.bounds          blind / oracle / encoder readers, probes
  python -m twinlens_train.mini_world.pairs           stage 3 (pair curriculum) experiments on the validation split
  python -m twinlens_train.mini_world.tap_experiment  a diffusion reader on another tap / fold (validation only)
  python -m twinlens_train.mini_world.eval_reference  PyTorch evaluation of the test suites
  python -m twinlens_train.mini_world.agreement       TS engine vs PyTorch greedy answers
  python -m twinlens_train.mini_world.samples         assets/samples through `twinlens ask`
  python -m twinlens_train.mini_world.model_card      the measured tables of models/mini-world/README.md

Imports go one way: recipe <- eval_reference <- export <- train -> report; recipe <- pairs <- train; bounds -> recipe;
model_card -> card_tables. Nothing imports train.
"""
