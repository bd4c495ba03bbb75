from .analysis import Experiment as Experiment
from .api import confirm as confirm
from .api import load_experiment as load_experiment
from .api import resume as resume
from .api import search as search
from .api import trainable as trainable
from .errors import TuneCifarError as TuneCifarError
from .errors import UsageError as UsageError
from .results import BestTrial as BestTrial
from .results import Confirmation as Confirmation
from .results import RestoredModel as RestoredModel

__version__: str
__all__: list[str]
