# coding=utf-8
"""Writes the built-in data of scripts/quickstart.sh: invented abstracts and a small disease NER set.

Everything here is invented for the quickstart: the abstracts are short, general descriptions written for this
project (not taken from PubMed or any corpus, not medical advice), and the NER sentences are filled-in templates.

Outputs (in --output_dir, default: this file's folder):
  * `pubmed_sample.xml`: the abstracts as a MEDLINE-style `PubmedArticleSet` (title + abstract per citation, made-up
    PMIDs), the input of prepare_corpus.py;
  * `ner/train_dev.tsv`, `ner/devel.tsv`, `ner/test.tsv`: BioBERT's NER format (`word<TAB>label`, B/I/O for disease
    mentions, a blank line between sentences). Most disease names recur in every file, in shared and in held-out
    sentence patterns; a few names and patterns appear only in devel.tsv and test.tsv. No sentence occurs twice.

The output is the same on every run (a fixed seed):

  python data/quickstart/make_quickstart_data.py
"""

import argparse
import os
import random
import re
from xml.sax.saxutils import escape

SEED = 20240501
NUM_SENTENCES = {"train_dev": 300, "devel": 60, "test": 60}
FIRST_PMID = 90000001  # far above PubMed's real PMIDs

# ---------------------------------------------------------------------------------------------------------------
# Pre-training text: (title, abstract) pairs.

ABSTRACTS = [
    ("Cystic fibrosis and chloride transport in epithelia.",
     "Cystic fibrosis is an inherited disorder that mainly affects the lungs and the digestive system. It is caused "
     "by mutations in the CFTR gene, which encodes a chloride channel in epithelial cells. Without a working channel, "
     "the mucus lining the airways becomes thick and difficult to clear. Repeated bacterial infections gradually "
     "damage the lung tissue. Most patients also need pancreatic enzyme supplements to digest fat. Small molecules "
     "that correct the folding of the mutant protein have improved lung function in many patients."),
    ("Huntington disease: a repeat expansion disorder.",
     "Huntington disease is a progressive neurodegenerative disorder inherited in an autosomal dominant manner. The "
     "underlying mutation is an expanded run of CAG repeats in the HTT gene. Longer repeats are associated with an "
     "earlier age of onset. Affected individuals develop involuntary movements, psychiatric symptoms and cognitive "
     "decline. Neurons of the striatum are particularly vulnerable to the mutant protein. Antisense oligonucleotides "
     "that lower huntingtin levels are being tested in clinical trials."),
    ("Loss of dopaminergic neurons in Parkinson disease.",
     "Parkinson disease is characterised by the loss of dopamine-producing neurons in the substantia nigra. Tremor "
     "at rest, rigidity and slowness of movement are its classic motor signs. Aggregates of alpha-synuclein, known "
     "as Lewy bodies, accumulate in surviving neurons. Most cases are sporadic, but variants in LRRK2 and GBA "
     "increase the risk. Levodopa remains the most effective symptomatic treatment. Over time, many patients "
     "experience motor fluctuations as the response to the drug becomes less stable."),
    ("Amyloid and tau in Alzheimer disease.",
     "Alzheimer disease is the most common cause of dementia in older adults. Its hallmarks are extracellular "
     "plaques of amyloid beta and intracellular tangles of tau protein. The APOE e4 allele is the strongest common "
     "genetic risk factor for late-onset disease. Rare mutations in APP, PSEN1 and PSEN2 cause early-onset familial "
     "forms. Memory loss usually appears first, followed by problems with language and orientation. Blood tests "
     "that measure phosphorylated tau may help to detect the disease at an early stage."),
    ("Insulin resistance in type 2 diabetes.",
     "Type 2 diabetes develops when the body becomes resistant to insulin and the pancreas cannot compensate. "
     "Obesity and physical inactivity are major risk factors. Chronically high blood glucose damages small blood "
     "vessels in the eyes, kidneys and nerves. Metformin is usually the first drug prescribed after diagnosis. "
     "Weight loss can restore normal glucose control in some patients. Regular screening of the kidneys and the "
     "retina is recommended."),
    ("Hereditary breast and ovarian cancer.",
     "Breast cancer is the most frequently diagnosed cancer in women worldwide. About one in ten cases is linked to "
     "an inherited predisposition. Germline variants in BRCA1 and BRCA2 raise the risk of both breast cancer and "
     "ovarian cancer. Women who carry such variants are offered more frequent imaging from a younger age. Some "
     "choose preventive surgery to lower their risk. Tumours in carriers often respond well to drugs that block "
     "PARP enzymes."),
    ("Screening for colorectal cancer.",
     "Colorectal cancer usually arises from benign polyps that grow slowly over many years. Removing polyps during "
     "colonoscopy prevents many tumours from forming. Stool tests for hidden blood offer a simpler option for "
     "population screening. Lynch syndrome, caused by defects in DNA mismatch repair genes, accounts for a small "
     "share of cases. Tumours from these patients show high microsatellite instability. Such tumours often respond "
     "to immune checkpoint inhibitors."),
    ("Androgen signalling in prostate cancer.",
     "Prostate cancer is common in older men and often grows slowly. The growth of most tumours depends on "
     "signalling through the androgen receptor. Measuring prostate-specific antigen in blood can detect the disease "
     "early, but it also finds tumours that would never cause harm. Active surveillance is an option for many men "
     "with low-risk disease. Advanced tumours are treated by lowering testosterone levels. Resistance eventually "
     "develops when the receptor gains mutations or is amplified."),
    ("Smoking and lung cancer.",
     "Lung cancer is the leading cause of cancer death in both men and women. Tobacco smoking accounts for the large "
     "majority of cases. Non-small cell lung cancer is subdivided by the appearance of the tumour cells under the "
     "microscope. Some adenocarcinomas carry activating mutations in EGFR or rearrangements of ALK. Targeted "
     "inhibitors of these kinases shrink tumours in many patients. Low-dose computed tomography can find tumours "
     "early in heavy smokers."),
    ("Clotting factor deficiency in hemophilia A.",
     "Hemophilia A is a bleeding disorder caused by a lack of clotting factor VIII. The F8 gene lies on the X "
     "chromosome, so the disease mostly affects boys. Bleeding into joints and muscles is the most common problem. "
     "Regular infusions of factor concentrate prevent most bleeding episodes. Some patients develop antibodies that "
     "neutralise the infused factor. Gene therapy delivering a working copy of F8 to the liver has produced lasting "
     "factor levels in trials."),
    ("Sickle cell anemia: a single base change.",
     "Sickle cell anemia results from a single base change in the HBB gene. The altered hemoglobin polymerises when "
     "oxygen levels are low and deforms red blood cells. Rigid sickled cells block small vessels and cause painful "
     "crises. The spleen is damaged early in life, which increases the risk of infection. Hydroxyurea raises fetal "
     "hemoglobin and reduces the number of crises. Newborn screening allows treatment to begin before the first "
     "symptoms."),
    ("Transfusion and iron in beta thalassemia.",
     "Beta thalassemia is caused by reduced or absent production of the beta globin chain. Unpaired alpha chains "
     "precipitate inside red cell precursors and destroy them. Patients with the severe form need regular blood "
     "transfusions from early childhood. Repeated transfusions lead to iron overload, which must be treated with "
     "chelating drugs. Carrier screening programmes have lowered the number of affected births in several "
     "countries. Editing the BCL11A enhancer to reactivate fetal globin is a promising new approach."),
    ("Dystrophin and Duchenne muscular dystrophy.",
     "Duchenne muscular dystrophy is a severe muscle-wasting disease of boys. It is caused by mutations that abolish "
     "the production of dystrophin. Without dystrophin, muscle fibres are damaged by their own contractions. "
     "Affected children have difficulty climbing stairs and usually lose the ability to walk by their teens. "
     "Corticosteroids slow the decline of muscle strength. Exon-skipping drugs restore a shortened but partly "
     "functional protein in some patients."),
    ("Motor neuron loss in amyotrophic lateral sclerosis.",
     "Amyotrophic lateral sclerosis is a fatal disease of the motor neurons in the brain and spinal cord. Patients "
     "develop progressive weakness that spreads from one region of the body to others. About one in ten cases runs "
     "in families. Expansions in C9orf72 and mutations in SOD1 are the most frequent genetic causes. Riluzole "
     "modestly prolongs survival. Breathing support becomes necessary as the respiratory muscles weaken."),
    ("Immune attack on myelin in multiple sclerosis.",
     "Multiple sclerosis is a chronic inflammatory disease of the central nervous system. Immune cells attack the "
     "myelin sheath that insulates nerve fibres. Most patients first experience relapses separated by periods of "
     "recovery. Magnetic resonance imaging reveals scattered lesions in the white matter. Disease-modifying "
     "therapies reduce the frequency of relapses. Low vitamin D levels and past infection with Epstein-Barr virus "
     "have been linked to a higher risk."),
    ("Joint inflammation in rheumatoid arthritis.",
     "Rheumatoid arthritis is an autoimmune disease that causes painful swelling of the joints. The inflamed "
     "synovial lining slowly erodes cartilage and bone. Antibodies against citrullinated proteins are found in most "
     "patients. Methotrexate is the usual first treatment. Biological drugs that block tumour necrosis factor help "
     "patients who do not respond. Early treatment prevents much of the permanent joint damage."),
    ("Crohn disease and ulcerative colitis.",
     "Crohn disease and ulcerative colitis are the two main forms of inflammatory bowel disease. Crohn disease can "
     "affect any part of the gut, while ulcerative colitis is limited to the colon. Variants in NOD2 were the first "
     "genetic risk factors found for Crohn disease. Both conditions involve an abnormal immune response to gut "
     "bacteria. Patients suffer from diarrhoea, abdominal pain and weight loss. Antibodies against integrins or "
     "cytokines are used when conventional drugs fail."),
    ("Blood pressure control in hypertension.",
     "Hypertension affects a large proportion of adults and often causes no symptoms. Persistently raised blood "
     "pressure strains the heart and damages arteries. It is a major risk factor for stroke, heart attack and kidney "
     "failure. Reducing salt intake and staying active lower blood pressure modestly. Several classes of drugs are "
     "available, and many patients need more than one. Home measurements help doctors to adjust the treatment."),
    ("Airway inflammation in asthma.",
     "Asthma is a chronic disease in which the airways become inflamed and narrow. Typical symptoms are wheezing, "
     "cough and shortness of breath. Attacks may be triggered by allergens, cold air, exercise or viral infections. "
     "Inhaled corticosteroids control inflammation in most patients. Short-acting bronchodilators relieve symptoms "
     "during an attack. Antibodies against interleukin 5 benefit patients with severe eosinophilic disease."),
    ("Seizures and epilepsy.",
     "Epilepsy is defined by a tendency to have recurrent unprovoked seizures. Seizures arise from bursts of "
     "abnormal electrical activity in the brain. Some forms are caused by variants in genes that encode ion "
     "channels, such as SCN1A. Electroencephalography helps to classify the type of seizure. Most patients become "
     "seizure-free with the right medication. Surgery can be considered when seizures start in a single area and "
     "drugs fail."),
    ("The genetics of schizophrenia.",
     "Schizophrenia is a serious mental disorder that usually begins in late adolescence or early adulthood. "
     "Hallucinations and delusions are common during acute episodes. Many patients also have problems with "
     "motivation, attention and memory. Genome-wide studies have found more than a hundred loci associated with the "
     "disorder. Antipsychotic drugs reduce psychotic symptoms but often cause side effects. Psychosocial support "
     "improves long-term outcomes."),
    ("Phenylketonuria and newborn screening.",
     "Phenylketonuria is an inborn error of metabolism caused by a deficiency of phenylalanine hydroxylase. "
     "Phenylalanine builds up in the blood and harms the developing brain. A drop of blood taken a few days after "
     "birth reveals the disease. A diet low in protein prevents intellectual disability when it is started early. "
     "Some patients respond to a synthetic form of the cofactor of the enzyme. Adults are advised to stay on the "
     "diet, especially during pregnancy."),
    ("Connective tissue in Marfan syndrome.",
     "Marfan syndrome is a disorder of connective tissue caused by mutations in FBN1. Affected people are often "
     "tall, with long limbs and flexible joints. The most dangerous complication is enlargement of the aorta, which "
     "can tear. Regular heart imaging allows surgery before the aorta ruptures. Lens dislocation is a common finding "
     "in the eye. Drugs that lower blood pressure slow the growth of the aorta."),
    ("Repeat silencing in fragile X syndrome.",
     "Fragile X syndrome is the most common inherited cause of intellectual disability. It results from the "
     "expansion of a CGG repeat in the FMR1 gene. The expanded repeat silences the gene, and its protein is no "
     "longer made. Boys are usually more severely affected than girls. Many affected children also show features of "
     "autism. Carriers of intermediate repeats can develop a tremor and ataxia syndrome later in life."),
    ("Down syndrome across the lifespan.",
     "Down syndrome is caused by an extra copy of chromosome 21. It is the most common chromosomal cause of "
     "developmental delay. Heart defects are present in about half of affected newborns. The risk of the condition "
     "rises with maternal age. Prenatal screening combines blood markers with ultrasound measurements. Adults with "
     "Down syndrome have a high risk of developing Alzheimer disease."),
    ("Photoreceptor loss in retinitis pigmentosa.",
     "Retinitis pigmentosa is a group of inherited diseases in which the photoreceptors of the retina slowly die. "
     "Night blindness is often the first symptom. The visual field then narrows until only central vision remains. "
     "Mutations in more than eighty genes have been described, including RHO and RPGR. Gene replacement therapy has "
     "been approved for patients with mutations in RPE65. Retinal implants can restore a limited sense of light in "
     "advanced cases."),
    ("Treating tuberculosis.",
     "Tuberculosis is caused by the bacterium Mycobacterium tuberculosis. It spreads through the air when people "
     "with active lung disease cough. Most infected people never develop symptoms, but the bacteria can remain "
     "dormant for years. Treatment requires a combination of antibiotics taken for at least six months. Strains "
     "resistant to isoniazid and rifampicin are a growing concern. The BCG vaccine protects young children against "
     "severe forms of the disease."),
    ("Malaria control in endemic regions.",
     "Malaria is a parasitic disease spread by mosquitoes in tropical regions. Plasmodium falciparum causes the most "
     "severe form of the illness. Fever, chills and anaemia are common signs of infection. Rapid diagnostic tests "
     "detect parasite proteins in a drop of blood. Bed nets treated with insecticide protect people while they "
     "sleep. A vaccine that targets the sporozoite stage is now given to young children in several countries."),
    ("Chronic infection with hepatitis B virus.",
     "Hepatitis B is a viral infection of the liver transmitted through blood and other body fluids. Infection at "
     "birth or in early childhood often becomes chronic. Chronic infection can lead to cirrhosis and liver cancer. "
     "Antiviral drugs suppress the virus but rarely eliminate it. A safe and effective vaccine has been available "
     "for decades. Screening of pregnant women prevents many infections in newborns."),
    ("DNA damage signalling in ataxia telangiectasia.",
     "Ataxia telangiectasia is a rare recessive disorder that affects the nervous and immune systems. It is caused "
     "by loss of the ATM kinase, which responds to DNA double-strand breaks. Children develop unsteady walking in "
     "the first years of life. Small dilated blood vessels appear on the eyes and skin. Patients are very sensitive "
     "to ionising radiation. They also have a markedly increased risk of leukemia and lymphoma."),
    ("Copper accumulation in Wilson disease.",
     "Wilson disease is a disorder of copper transport caused by mutations in ATP7B. Copper accumulates in the "
     "liver and later in the brain. Patients may present with liver damage, movement problems or psychiatric "
     "changes. A ring of copper deposits in the cornea is a useful diagnostic sign. Chelating agents and zinc salts "
     "remove copper or block its absorption. With lifelong treatment, most patients live normal lives."),
    ("Lysosomal storage in Gaucher disease.",
     "Gaucher disease is the most common lysosomal storage disorder. A deficiency of glucocerebrosidase leads to the "
     "build-up of a fatty substance in macrophages. The spleen and liver enlarge, and bone pain is frequent. Enzyme "
     "replacement therapy reverses many of the symptoms. Carriers of GBA variants have an increased risk of "
     "Parkinson disease. The disorder is particularly frequent in some founder populations."),
    ("Hexosaminidase deficiency in Tay-Sachs disease.",
     "Tay-Sachs disease is a fatal inherited disorder that destroys nerve cells in the brain and spinal cord. It is "
     "caused by a deficiency of the enzyme hexosaminidase A. In the classic infantile form, development slows a few "
     "months after birth. A cherry-red spot in the retina is a characteristic finding. Carrier testing programmes "
     "have greatly reduced its incidence in high-risk communities. No treatment can yet stop the progression of the "
     "disease."),
    ("Platelet adhesion in von Willebrand disease.",
     "Von Willebrand disease is the most common inherited bleeding disorder. It is caused by a deficiency or "
     "malfunction of von Willebrand factor, which helps platelets stick to damaged vessels. Many patients have only "
     "mild symptoms such as nosebleeds or easy bruising. Women with the disorder often experience heavy menstrual "
     "bleeding. Desmopressin releases stored factor and is used before minor surgery. Severe forms require factor "
     "concentrates."),
    ("Cyst growth in polycystic kidney disease.",
     "Autosomal dominant polycystic kidney disease is one of the most common inherited kidney disorders. Mutations "
     "in PKD1 or PKD2 lead to the growth of many fluid-filled cysts. The kidneys slowly enlarge and lose their "
     "function. High blood pressure often appears early in the course of the disease. Tolvaptan slows the growth of "
     "the cysts in some patients. Many patients eventually need dialysis or a kidney transplant."),
    ("Familial hypercholesterolemia and the LDL receptor.",
     "Familial hypercholesterolemia is an inherited disorder of lipid metabolism. Mutations in the LDLR gene reduce "
     "the clearance of LDL cholesterol from the blood. Affected people have very high cholesterol levels from birth. "
     "Without treatment, heart attacks can occur at a young age. Statins are the mainstay of therapy, often combined "
     "with other lipid-lowering drugs. Cascade testing of relatives identifies many undiagnosed cases."),
    ("Toxic repeat RNA in myotonic dystrophy.",
     "Myotonic dystrophy is the most common muscular dystrophy that begins in adulthood. It is caused by an "
     "expanded CTG repeat in the DMPK gene. The repeat RNA traps splicing proteins inside the nucleus. As a result, "
     "many other transcripts are spliced incorrectly. Patients have trouble relaxing their muscles after a "
     "contraction. Cataracts, heart rhythm problems and diabetes are frequent complications."),
    ("New treatments for spinal muscular atrophy.",
     "Spinal muscular atrophy is a genetic disease that destroys motor neurons in the spinal cord. It is caused by "
     "the loss of both copies of SMN1. A nearly identical gene, SMN2, produces only a small amount of functional "
     "protein. The number of SMN2 copies largely determines the severity of the disease. Drugs that change the "
     "splicing of SMN2 have transformed the outlook of affected infants. A single dose of gene therapy is another "
     "option when given early."),
    ("RAS signalling in neurofibromatosis type 1.",
     "Neurofibromatosis type 1 is a common genetic disorder caused by mutations in NF1. The gene encodes "
     "neurofibromin, a protein that restrains RAS signalling. Patients develop light brown skin patches and benign "
     "tumours along nerves. Learning difficulties are present in about half of affected children. MEK inhibitors "
     "shrink plexiform neurofibromas in many patients. Regular check-ups help to detect malignant changes early."),
    ("Treating glioblastoma.",
     "Glioblastoma is the most aggressive primary brain tumour in adults. It grows rapidly and infiltrates the "
     "surrounding brain tissue. Standard treatment combines surgery, radiotherapy and temozolomide. Methylation of "
     "the MGMT promoter predicts a better response to chemotherapy. Despite treatment, the tumour almost always "
     "recurs. New approaches include vaccines and electric fields that disrupt cell division."),
    ("Targeted and immune therapy of melanoma.",
     "Melanoma is a cancer of the pigment cells of the skin. Exposure to ultraviolet light is the main "
     "environmental risk factor. About half of melanomas carry an activating mutation in BRAF. Combined inhibitors "
     "of BRAF and MEK produce rapid responses. Immune checkpoint inhibitors give lasting control of the disease in a "
     "substantial fraction of patients. Early removal of thin tumours is usually curative."),
    ("Acute myeloid leukemia in adults.",
     "Acute myeloid leukemia is a cancer of the blood-forming cells of the bone marrow. Immature myeloid cells "
     "accumulate and crowd out normal blood production. Patients present with fatigue, infections and bleeding. "
     "Mutations in FLT3, NPM1 and IDH1 guide the choice of treatment. Intensive chemotherapy induces remission in "
     "many younger patients. Stem cell transplantation offers the best chance of cure for high-risk disease."),
    ("Kinase inhibition in chronic myeloid leukemia.",
     "Chronic myeloid leukemia is driven by the fusion of the BCR and ABL1 genes. The fusion arises from an exchange "
     "between chromosomes 9 and 22. The resulting kinase is always active and drives the growth of myeloid cells. "
     "Imatinib blocks the kinase and has turned the disease into a manageable condition. Most patients now have a "
     "near-normal life expectancy. Some can stop treatment after a long period of deep remission."),
    ("From genes to proteins.",
     "Genes are transcribed into messenger RNA by RNA polymerase. The RNA is then processed, spliced and exported "
     "from the nucleus. Ribosomes translate the messenger RNA into protein. Transcription factors bind to promoters "
     "and enhancers to control when a gene is active. Small RNAs can silence genes by targeting their transcripts "
     "for degradation. Measuring RNA levels across tissues reveals where each gene is used."),
    ("Pathways of DNA repair.",
     "Cells constantly repair damage to their DNA. Single-strand lesions are removed by base excision and "
     "nucleotide excision repair. Double-strand breaks are joined either by homologous recombination or by "
     "non-homologous end joining. Homologous recombination uses the sister chromatid as a template and is highly "
     "accurate. Defects in repair pathways lead to the accumulation of mutations. Many anticancer drugs work by "
     "overwhelming the repair capacity of tumour cells."),
    ("Sequencing in clinical genetics.",
     "High-throughput sequencing reads millions of DNA fragments in parallel. The reads are aligned to a reference "
     "genome to find variants. Exome sequencing targets only the protein-coding regions, which keeps costs low. "
     "Whole-genome sequencing also detects variants in regulatory regions and structural changes. Interpreting rare "
     "variants remains the main challenge in clinical genetics. Public databases collect evidence on whether a "
     "variant causes disease."),
    ("Designing randomised trials.",
     "Randomised controlled trials are the standard way to test a new treatment. Patients are assigned by chance to "
     "the new treatment or to a control group. Blinding prevents expectations from influencing the results. The "
     "primary end point must be chosen before the trial starts. Small trials may miss real effects, while very "
     "large trials can detect small ones. Results should be reported whether they are positive or negative."),
    ("Mouse models and organoids.",
     "Mouse models are widely used to study human disease. Genes can be deleted or modified in specific tissues at "
     "chosen times. Many models reproduce some but not all features of the human condition. Differences in "
     "physiology mean that results must be confirmed in patients. Organoids grown from human stem cells offer a "
     "complementary system. Combining both approaches gives a fuller picture of disease mechanisms."),
    ("Antibodies as tools and drugs.",
     "Antibodies are proteins produced by B cells that recognise specific molecules. Each antibody binds its target "
     "through a variable region at the tips of its arms. Monoclonal antibodies are produced from a single clone and "
     "are highly uniform. They are used as drugs against cancer, autoimmune diseases and infections. In the "
     "laboratory, antibodies detect proteins in tissue sections and cell extracts. Their specificity must be "
     "validated for every application."),
    ("Regulated cell death.",
     "Apoptosis is a controlled form of cell death that removes damaged or unwanted cells. It is carried out by a "
     "family of proteases called caspases. Proteins of the BCL2 family decide whether the mitochondria release "
     "cytochrome c. Many tumours escape apoptosis by producing too much BCL2. Venetoclax, a BCL2 inhibitor, is "
     "effective in some blood cancers. Other forms of cell death, such as necroptosis and ferroptosis, have been "
     "described more recently."),
    ("The gut microbiome.",
     "The human gut harbours trillions of bacteria. These microbes help to digest fibre and produce short-chain "
     "fatty acids. The composition of the microbiome changes with diet, age and antibiotic use. Altered gut "
     "bacteria have been reported in obesity, inflammatory bowel disease and many other conditions. It is often "
     "unclear whether these changes are a cause or a consequence of disease. Transfer of stool from healthy donors "
     "cures many recurrent gut infections."),
    ("How vaccines work.",
     "Vaccines train the immune system to recognise a pathogen before infection. Live attenuated vaccines use "
     "weakened forms of the microbe. Subunit vaccines contain only selected proteins or sugars. Messenger RNA "
     "vaccines instruct cells to produce the antigen themselves. Adjuvants increase the strength and duration of the "
     "immune response. High vaccination coverage also protects those who cannot be vaccinated."),
    ("Ion channels and channelopathies.",
     "Ion channels are membrane proteins that let charged particles cross the cell membrane. Voltage-gated sodium "
     "channels start the action potential in nerve and muscle cells. Potassium channels restore the resting "
     "potential after each impulse. Mutations in channel genes cause a group of disorders called channelopathies. "
     "Examples include some forms of epilepsy, periodic paralysis and cardiac arrhythmia. Many drugs act by "
     "blocking or opening specific channels."),
    ("Genes and drug response.",
     "People differ in how they respond to the same drug. Part of this variation is explained by genes that encode "
     "drug-metabolising enzymes. Variants in CYP2C19 affect the activation of clopidogrel. Carriers of certain HLA "
     "alleles are at risk of severe skin reactions to some drugs. Testing before treatment can prevent such "
     "reactions. Dosing guidelines based on genotype are now available for many medicines."),
    ("Long-term cohort studies.",
     "Large cohort studies follow thousands of people over many years. Participants provide blood samples and answer "
     "questions about their lifestyle. Such studies can link exposures to the later development of disease. "
     "Confounding factors must be taken into account in the analysis. Mendelian randomisation uses genetic variants "
     "to test whether an association is causal. Data from several cohorts are often pooled to increase statistical "
     "power."),
]

# ---------------------------------------------------------------------------------------------------------------
# NER set: disease names with an abbreviation (or None) and a kind (inherited diseases carry their gene).

DISEASES = [
    ("cystic fibrosis", "CF", "CFTR"), ("Huntington disease", "HD", "HTT"), ("Parkinson disease", "PD", "LRRK2"),
    ("Alzheimer disease", "AD", "APOE"), ("type 2 diabetes", "T2D", None), ("breast cancer", None, "cancer"),
    ("ovarian cancer", None, "cancer"), ("colorectal cancer", "CRC", "cancer"), ("prostate cancer", None, "cancer"),
    ("lung cancer", None, "cancer"), ("hemophilia A", None, "F8"), ("sickle cell anemia", "SCA", "HBB"),
    ("beta thalassemia", None, "HBB"), ("Duchenne muscular dystrophy", "DMD", None),
    ("amyotrophic lateral sclerosis", "ALS", "SOD1"), ("multiple sclerosis", "MS", None),
    ("rheumatoid arthritis", "RA", None), ("Crohn disease", None, "NOD2"), ("ulcerative colitis", "UC", None),
    ("hypertension", None, None), ("asthma", None, None), ("epilepsy", None, "SCN1A"), ("schizophrenia", None, None),
    ("phenylketonuria", "PKU", "PAH"), ("Marfan syndrome", None, "FBN1"), ("fragile X syndrome", None, "FMR1"),
    ("Down syndrome", None, None), ("retinitis pigmentosa", "RP", "RHO"), ("ataxia telangiectasia", None, "ATM"),
    ("Wilson disease", None, "ATP7B"), ("Gaucher disease", None, "GBA"), ("Tay-Sachs disease", None, "HEXA"),
    ("von Willebrand disease", "VWD", "VWF"), ("polycystic kidney disease", "PKD", "PKD1"),
    ("familial hypercholesterolemia", "FH", "LDLR"), ("myotonic dystrophy", None, "DMPK"),
    ("spinal muscular atrophy", "SMA", "SMN1"), ("neurofibromatosis type 1", None, "NF1"),
    ("glioblastoma", None, "cancer"), ("melanoma", None, "cancer"), ("acute myeloid leukemia", "AML", "cancer"),
    ("chronic myeloid leukemia", "CML", "cancer"), ("Lynch syndrome", None, "MLH1"), ("tuberculosis", "TB", None),
    ("malaria", None, None),
]

# Names that only devel.tsv and test.tsv mention.
HELD_OUT_DISEASES = [
    ("Fabry disease", None, "GLA"), ("Pompe disease", None, "GAA"), ("Rett syndrome", None, "MECP2"),
    ("Wilms tumor", None, "cancer"), ("hypertrophic cardiomyopathy", "HCM", "MYH7"),
    ("osteogenesis imperfecta", "OI", "COL1A1"), ("pancreatic cancer", None, "cancer"),
]

CANCER_GENES = ["TP53", "KRAS", "PIK3CA", "PTEN", "BRAF", "EGFR", "MYC", "CDKN2A", "ERBB2", "APC"]
OTHER_GENES = ["GAPDH", "ACTB", "STAT3", "MAPK1", "AKT1", "FOXO3", "SIRT1", "HIF1A", "NFKB1", "IL6"]
DRUGS = ["metformin", "aspirin", "a statin", "an oral steroid", "vitamin D", "a monoclonal antibody", "placebo",
         "a kinase inhibitor", "an antisense oligonucleotide", "low-dose lithium"]
POPULATIONS = ["older adults", "young women", "smokers", "men over 50", "rural communities", "urban children",
               "first-degree relatives", "healthcare workers"]
PLACES = ["Norway", "Japan", "Brazil", "Kenya", "Canada", "Italy", "Chile", "Vietnam"]
TESTS = ["genetic testing", "a blood test", "imaging", "biopsy", "sequencing of the gene", "a sweat test"]
COMPARTMENTS = ["nucleus", "cytoplasm", "mitochondria", "plasma membrane", "endoplasmic reticulum"]
AGES = ["childhood", "adolescence", "early adulthood", "middle age", "late life"]

# Patterns: {D}/{E} disease mentions; {G} a gene of the disease; {X} any gene; {N}/{M} numbers; {Y} a year; the
# rest fillers. Patterns with {G} are used only for diseases that have a gene of their own.
SHARED_PATTERNS = [
    "Patients with {D} were recruited from {N} hospitals in {P} .",
    "{D} is caused by mutations in the {G} gene .",
    "Mutations in {G} were found in {N} of {M} families with {D} .",
    "We describe a new {G} variant in a child with {D} .",
    "The prevalence of {D} was {N} per {M} inhabitants .",
    "{N} patients with {D} and {M} healthy controls took part in the study .",
    "The risk of {D} was higher among {Q} .",
    "{D} and {E} share several clinical features .",
    "No case of {D} was observed in the control group .",
    "Treatment with {R} reduced symptoms in {N} patients with {D} .",
    "Early diagnosis of {D} remains difficult .",
    "This review summarises recent progress in the treatment of {D} .",
    "We followed {N} children with {D} for {M} years .",
    "Quality of life was lower in people with {D} than in controls .",
    "A family history of {D} was reported by {N} participants .",
    "Symptoms of {D} usually begin in {A} .",
    "The diagnosis of {D} was confirmed by {T} .",
    "{D} was diagnosed at a mean age of {N} years .",
    "Among the {N} patients , {M} also had {D} .",
    "Expression of {X} was increased in tissue from patients with {D} .",
    "{D} ( {B} ) is a common cause of hospital admission .",
    "In {B} , the {G} protein is often missing .",
    "The incidence of {D} in {P} has risen since {Y} .",
    "Patients with {D} or {E} were excluded .",
    "{D} is a disorder of the {O} .",
    "Mice lacking {G} develop a condition that resembles {D} .",
    "Somatic mutations in {X} are frequent in {D} .",
    "Carriers of the {G} variant did not develop {D} .",
    "{D} affects about {N} people in {P} .",
    "The cost of caring for patients with {D} is high .",
]

# Patterns that only devel.tsv and test.tsv use.
HELD_OUT_PATTERNS = [
    "Little is known about the course of {D} in {Q} .",
    "{N} of the {M} participants had a diagnosis of {D} .",
    "Screening for {D} began in {P} in {Y} .",
    "Loss of {G} function is the main cause of {D} .",
    "Both {D} and {E} were more common in the older group .",
]

# Sentences without a disease, for every file.
PLAIN_PATTERNS = [
    "The {X} protein localises to the {C} .",
    "Expression of {X} was measured by quantitative PCR in {N} samples .",
    "Cells were cultured for {N} days in the presence of {R} .",
    "The study was approved by the local ethics committee .",
    "Samples were stored at minus {N} degrees until analysis .",
    "{N} healthy volunteers received a single dose of {R} .",
    "Knockdown of {X} reduced cell growth by {N} percent .",
    "The data were analysed with a two-sided test at a level of 0.05 .",
    "All participants in {P} gave written informed consent .",
    "Binding of {X} to {Z} was confirmed by immunoprecipitation .",
]

ORGANS = ["nervous system", "immune system", "blood", "muscle", "liver", "kidney", "lung", "skin"]


def words_of(text):
  """BioBERT's NER word split: runs of letters and digits, and every other non-space character on its own."""
  return re.findall(r"\w+|[^\w\s]", text)


def fill(pattern, diseases, rng):
  """(words, labels) of one sentence: `pattern` filled in for the first disease of `diseases` (and a second)."""
  name, abbreviation, kind = diseases[0]
  other = diseases[1]
  gene = kind if kind not in (None, "cancer") else None
  values = {
      "G": gene, "B": abbreviation, "X": rng.choice(CANCER_GENES if kind == "cancer" else OTHER_GENES),
      "Z": rng.choice(OTHER_GENES), "N": str(rng.randint(3, 90)), "M": str(rng.randint(100, 900)),
      "Y": str(rng.randint(1990, 2020)), "P": rng.choice(PLACES), "Q": rng.choice(POPULATIONS),
      "R": rng.choice(DRUGS), "T": rng.choice(TESTS), "A": rng.choice(AGES), "C": rng.choice(COMPARTMENTS),
      "O": rng.choice(ORGANS),
  }
  words, labels = [], []
  for piece in pattern.split(" "):
    slot = piece[1:-1] if piece.startswith("{") and piece.endswith("}") else None
    if slot in ("D", "E", "B"):
      mention = {"D": name, "E": other[0], "B": abbreviation}[slot]
      found = words_of(mention)
      words.extend(found)
      labels.extend(["B"] + ["I"] * (len(found) - 1))
    elif slot is not None:
      found = words_of(values[slot])
      words.extend(found)
      labels.extend(["O"] * len(found))
    else:
      words.append(piece)
      labels.append("O")
  words[0] = words[0][:1].upper() + words[0][1:]
  return words, labels


def usable(pattern, disease):
  """Whether `pattern` makes sense for `disease` (a gene or an abbreviation where the pattern needs one)."""
  _, abbreviation, kind = disease
  if "{G}" in pattern and kind in (None, "cancer"):
    return False
  if "{B}" in pattern and abbreviation is None:
    return False
  if "Somatic mutations" in pattern and kind != "cancer":
    return False
  if "disorder of the" in pattern and kind == "cancer":
    return False
  return True


def make_sentences(count, patterns, diseases, rng, seen):
  """`count` new sentences (about one in eight without a disease); `seen` holds the sentences of earlier files."""
  sentences = []
  while len(sentences) < count:
    if rng.random() < 0.125:
      pattern, pair = rng.choice(PLAIN_PATTERNS), rng.sample(DISEASES, 2)
    else:
      pattern = rng.choice(patterns)
      pair = [rng.choice(diseases)]
      pair.append(rng.choice([d for d in diseases if d is not pair[0]]))
      if not usable(pattern, pair[0]):
        continue
    words, labels = fill(pattern, pair, rng)
    key = " ".join(words)
    if key in seen:
      continue
    seen.add(key)
    sentences.append((words, labels))
  return sentences


def ner_sets():
  """{file stem: [(words, labels)]} of the three NER files."""
  rng = random.Random(SEED)
  seen = set()
  sets = {"train_dev": make_sentences(NUM_SENTENCES["train_dev"], SHARED_PATTERNS, DISEASES, rng, seen)}
  for stem in ("devel", "test"):
    count = NUM_SENTENCES[stem]
    held_out = count // 4
    sentences = make_sentences(count - held_out, SHARED_PATTERNS, DISEASES, rng, seen)
    sentences += make_sentences(held_out, HELD_OUT_PATTERNS + SHARED_PATTERNS[:10], DISEASES + HELD_OUT_DISEASES,
                                rng, seen)
    rng.shuffle(sentences)
    sets[stem] = sentences
  return sets


def tsv(sentences):
  """BioBERT's NER file text: `word<TAB>label` lines, a blank line after each sentence."""
  return "".join("".join("%s\t%s\n" % pair for pair in zip(words, labels)) + "\n" for words, labels in sentences)


def pubmed_xml(abstracts):
  """The abstracts as a MEDLINE-style PubmedArticleSet."""
  lines = ['<?xml version="1.0" encoding="UTF-8"?>',
           "<!-- Invented abstracts for scripts/quickstart.sh (data/quickstart/make_quickstart_data.py); "
           "not from PubMed. -->",
           "<PubmedArticleSet>"]
  for i, (title, abstract) in enumerate(abstracts):
    lines += ["  <PubmedArticle>",
              '    <MedlineCitation Status="MEDLINE" Owner="NLM">',
              '      <PMID Version="1">%d</PMID>' % (FIRST_PMID + i),
              "      <Article>",
              "        <ArticleTitle>%s</ArticleTitle>" % escape(title),
              "        <Abstract><AbstractText>%s</AbstractText></Abstract>" % escape(abstract),
              "      </Article>",
              "    </MedlineCitation>",
              "  </PubmedArticle>"]
  lines.append("</PubmedArticleSet>")
  return "\n".join(lines) + "\n"


def write(path, text):
  """Writes UTF-8 text with "\\n" line ends, creating the folder."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w", encoding="utf-8", newline="\n") as f:
    f.write(text)


def main():
  """Writes every file and prints what each holds."""
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--output_dir", default=os.path.dirname(os.path.abspath(__file__)),
                      help="where pubmed_sample.xml and ner/ are written (default: this file's folder)")
  args = parser.parse_args()
  write(os.path.join(args.output_dir, "pubmed_sample.xml"), pubmed_xml(ABSTRACTS))
  for stem, sentences in ner_sets().items():
    write(os.path.join(args.output_dir, "ner", stem + ".tsv"), tsv(sentences))
    mentions = sum(labels.count("B") for _, labels in sentences)
    print("%s.tsv: %d sentences, %d disease mentions" % (stem, len(sentences), mentions))
  print("pubmed_sample.xml: %d abstracts" % len(ABSTRACTS))


if __name__ == "__main__":
  main()
